package settings

import "os"

// Options holds what the client reads at start.
type Options struct {
	Password    string `json:"password" yaml:"password"`
	APIKey      string `json:"apiKey"`
	TokenSource string `json:"tokenSource"`
}

const (
	passwordEnv     = "APP_PASSWORD"
	tokenFileFlag   = "token-file"
	secretKeyHeader = "X-Secret-Key"
)

func Load() Options {
	return Options{
		Password: os.Getenv("APP_PASSWORD"),
		APIKey:   os.Getenv("APP_API_KEY"),
	}
}

var secretName = "application-credentials"
var tokenType = "Bearer"
var apiKeyQueryParam = "api_key"
