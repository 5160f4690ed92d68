package capstan

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// gitDates are the author and committer dates of testRepo's two commits, as findings show them.
var gitDates = [2]string{"2026-01-02T03:04:05+01:00", "2026-01-03T10:00:00-05:00"}

// testRepo is a repository made by the git CLI under a temporary directory.
type testRepo struct {
	t    *testing.T
	home string // HOME for git: none of the user's or the system's configuration applies
	dir  string
}

// git runs `git args...` in the repository as Capstan Test <test@example.invalid> at date and
// returns its standard output, trimmed.
func (r testRepo) git(date string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "init.defaultBranch=main",
		"-c", "user.name=Capstan Test", "-c", "user.email=test@example.invalid",
		"-c", "commit.gpgsign=false"}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+r.home, "XDG_CONFIG_HOME="+r.home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// writeRepo makes a repository on main: a first commit adds app/.env (token 0) and a README, a
// second removes app/.env. It returns the repository and the first commit's id.
func writeRepo(t *testing.T) (testRepo, string) {
	t.Helper()
	base := t.TempDir()
	r := testRepo{t: t, home: filepath.Join(base, "home"), dir: filepath.Join(base, "repo")}
	for _, d := range []string{r.home, filepath.Join(r.dir, "app")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.git(gitDates[0], "init", "-q")
	os.WriteFile(filepath.Join(r.dir, "app", ".env"), []byte("GITHUB_TOKEN="+requestTokens[0]+"\n"), 0o644)
	os.WriteFile(filepath.Join(r.dir, "README"), []byte("hello\n"), 0o644)
	r.git(gitDates[0], "add", ".")
	r.git(gitDates[0], "commit", "-q", "-m", "Add the app's config")
	added := r.git(gitDates[0], "rev-parse", "HEAD")
	r.git(gitDates[1], "rm", "-q", "app/.env")
	r.git(gitDates[1], "commit", "-q", "-m", "Remove the token")
	return r, added
}

// checkGitFindings checks the one finding of writeRepo's history: token 0 in app/.env, at the
// commit that added it (its blob is in no other).
func checkGitFindings(t *testing.T, added string, got []Finding) {
	t.Helper()
	want := &GitOrigin{Commit: added, Author: "Capstan Test", Email: "test@example.invalid",
		Date: gitDates[0], Message: "Add the app's config"}
	if len(got) != 1 {
		t.Fatalf("%d findings, want 1: %+v", len(got), got)
	}
	f := got[0]
	if f.Path != "app/.env" || f.Line != 1 || !strings.HasPrefix(f.RuleID, "github") || f.Image != nil {
		t.Errorf("finding: %+v", f)
	}
	if !reflect.DeepEqual(f.Git, want) {
		t.Errorf("commit %+v, want %+v", f.Git, want)
	}
	if strings.Contains(f.Secret, "8kTqZ2vXw9") {
		t.Errorf("not redacted: %q", f.Secret)
	}
}

func TestScanRequestGit(t *testing.T) {
	repo, added := writeRepo(t)
	req := ScanRequest{
		Git: &GitSource{Repo: repo.dir}, Packs: []string{"secrets"}, NoIgnoreDiscovery: true,
		Threads: 2, CacheDir: filepath.Join(t.TempDir(), "cache"),
	}
	// Twice: the second run answers the blobs from the cache, with the same finding.
	for run := 0; run < 2; run++ {
		res, err := req.Run()
		if err != nil {
			t.Fatal(err)
		}
		checkGitFindings(t, added, res.Findings)
		if res.Commits != 2 || res.LayersPulled != 0 {
			t.Fatalf("counters: %+v", res)
		}
	}

	// JSON: the commit as the object "git", as capstan prints it, and back.
	res, _ := req.Run()
	b, err := json.Marshal(res.Findings[0])
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	json.Unmarshal(b, &fields)
	wantGit := map[string]any{"commit": added, "author": "Capstan Test",
		"email": "test@example.invalid", "date": gitDates[0], "message": "Add the app's config"}
	if !reflect.DeepEqual(fields["git"], wantGit) || fields["path"] != "app/.env" || fields["image"] != nil {
		t.Fatalf("JSON: %s", b)
	}
	var back Finding
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, res.Findings[0]) {
		t.Fatalf("JSON round trip: %+v %v", back, err)
	}
	files, _ := builtin(t, "secrets").ScanBytes([]byte(tokenLine), ".env")
	if b, _ := json.Marshal(files[0]); strings.Contains(string(b), `"git"`) || files[0].Git != nil {
		t.Fatalf("a file's finding has no commit: %s", b)
	}

	// A staged file (token 1) is not history; Staged alone finds it, with no commit.
	os.WriteFile(filepath.Join(repo.dir, "staged.env"), []byte("GITHUB_TOKEN="+requestTokens[1]+"\n"), 0o644)
	repo.git(gitDates[1], "add", "staged.env")
	res, err = req.Run()
	if err != nil {
		t.Fatal(err)
	}
	checkGitFindings(t, added, res.Findings)
	staged := req
	staged.Git = &GitSource{Repo: repo.dir, Staged: true}
	res, err = staged.Run()
	if err != nil || len(res.Findings) != 1 || res.Findings[0].Path != "staged.env" ||
		res.Findings[0].Git != nil || res.Commits != 0 {
		t.Fatalf("staged: %+v %v", res, err)
	}

	// After the commit that added it, the token is not new; main reaches it.
	since := req
	since.Git = &GitSource{Repo: repo.dir, Since: added}
	if res, err := since.Run(); err != nil || len(res.Findings) != 0 || res.Commits != 1 {
		t.Fatalf("since the first commit: %+v %v", res, err)
	}
	branch := req
	branch.Git = &GitSource{Repo: repo.dir, Branch: "main"}
	res, err = branch.Run()
	if err != nil {
		t.Fatal(err)
	}
	checkGitFindings(t, added, res.Findings)

	// A revision that does not resolve, a directory that is not a repository: reported.
	notRepo := t.TempDir()
	for _, g := range []GitSource{{Repo: repo.dir, Since: "no-such-tag"}, {Repo: notRepo}} {
		bad := req
		bad.Git = &g
		res, err := bad.Run()
		var pe PathErrors
		if !errors.As(err, &pe) || len(pe) != 1 || !strings.HasPrefix(pe[0], g.Repo+": ") ||
			res == nil || len(res.Findings) != 0 {
			t.Errorf("%+v: %+v %v", g, res, err)
		}
	}

	for _, c := range []struct {
		req  ScanRequest
		text string
	}{
		{ScanRequest{Git: &GitSource{}}, "repo is empty"},
		{ScanRequest{Git: &GitSource{Repo: repo.dir, Since: "main", Staged: true}}, "staged"},
		{ScanRequest{Git: &GitSource{Repo: repo.dir, Branch: "main", Staged: true}}, "staged"},
		{ScanRequest{Git: &GitSource{Repo: repo.dir}, Inputs: []string{repo.dir}}, "one kind"},
		{ScanRequest{Git: &GitSource{Repo: repo.dir}, Images: []string{"alpine"}}, "one kind"},
		{ScanRequest{Git: &GitSource{Repo: repo.dir, Branch: "ma\x00in"}}, "NUL"},
	} {
		got, err := c.req.Run()
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), c.text) || got != nil {
			t.Errorf("%+v: got %+v, %v; want an invalid argument with %q", c.req.Git, got, err, c.text)
		}
	}
}

func TestScanGit(t *testing.T) {
	repo, added := writeRepo(t)
	r := builtin(t, "secrets")
	got, err := r.ScanGit(repo.dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkGitFindings(t, added, got)

	notRepo := t.TempDir()
	if got, err := r.ScanGit(notRepo, 0); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), notRepo) || got != nil {
		t.Fatalf("not a repository: %+v %v", got, err)
	}
	if _, err := r.ScanGit("", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("no repository: %v", err)
	}
	if _, err := r.ScanGit(repo.dir, 100000); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("100000 threads: %v", err)
	}
	if _, err := r.ScanGit(repo.dir, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative threads: %v", err)
	}
	closed, _ := BuiltinRules("secrets")
	closed.Close()
	if _, err := closed.ScanGit(repo.dir, 0); err != ErrClosed {
		t.Fatalf("closed rules: %v", err)
	}
}
