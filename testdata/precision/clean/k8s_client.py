# coding: utf-8
"""Generated-style Kubernetes client model: attribute maps name types, not values."""


class V1PodSpec(object):
    openapi_types = {
        'automount_service_account_token': 'bool',
        'image_pull_secrets': 'list[V1LocalObjectReference]',
        'service_account_token': 'V1ServiceAccountTokenProjection',
        'secret_refs': 'dict(str, V1SecretReference)',
    }

    attribute_map = {
        'automount_service_account_token': 'automountServiceAccountToken',
        'image_pull_secrets': 'imagePullSecrets',
    }

    def __init__(self, image_pull_secrets=None, password=None, token=None):
        self._image_pull_secrets = image_pull_secrets
        self._password = password
        self.password = self._password
        self.token = token or os.getenv("KUBE_TOKEN")
        self.access_key = os.environ.get("AWS_ACCESS_KEY_ID")


IAM_ROLES = {
    'impersonation_token_role': 'roles/iam.serviceAccountTokenCreator',
    'secret_accessor_role': 'roles/secretmanager.secretAccessor',
}


class Credentials(_messages.Message):
    _password = _messages.StringField(1)
    _token = _messages.StringField(2)
    api_key = _messages.StringField(3)


def connect(settings):
    password = settings.DATABASE_PASSWORD
    secret = get_secret_from_vault(settings.VAULT_PATH)
    token = fetch_token(url="https://auth.internal/token")
    return Client(password=password, secret=secret, token=token)
