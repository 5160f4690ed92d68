// Express server: every credential comes from the environment.
const express = require('express');
const apiKey = process.env.STRIPE_API_KEY;
const slackToken = process.env.SLACK_BOT_TOKEN || '';
const config = {
  secret: process.env.SESSION_SECRET,
  accessToken: this.accessTokenProvider,
  password: "${DB_PASSWORD}",
  api_key: "<API_KEY>",
};
const tokenHeader = "X-Auth-Token-Expiry-Seconds";
const passwordPolicy = "MinLength8RequireDigits";
const tokenTTLHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds";
const SchemeIDHTTPAPIKey = "smithy.api#httpApiKeyAuth";
module.exports = { apiKey, slackToken, config };
