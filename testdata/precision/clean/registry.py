"""Writes an .npmrc for the registry from the environment."""


def npmrc(registry, token):
    auth_token_config = '//{}:_authToken'.format(registry)
    _password = _messages.StringField(1)
    _authToken = self._auth_token_from_env()
    return "{}={}".format(auth_token_config, token)
