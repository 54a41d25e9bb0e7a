{{/* Non-secret API env (docs/contract.md); shared by the Deployment's ConfigMap and the migration Job. */}}
{{- define "chat.api.env" -}}
ENVIRONMENT: {{ .Values.config.environment | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
LOG_JSON: {{ .Values.config.logJson | quote }}
API_HOST: "0.0.0.0"
API_PORT: {{ .Values.api.ports.http | quote }}
API_INTERNAL_HOST: "0.0.0.0"
API_INTERNAL_PORT: {{ .Values.api.ports.internal | quote }}
API_PREFIX: {{ .Values.api.prefix | quote }}
JWT_ISSUER: {{ .Values.api.jwt.issuer | quote }}
JWT_AUDIENCE: {{ .Values.api.jwt.audience | quote }}
ACCESS_TOKEN_TTL_SECONDS: {{ .Values.api.jwt.accessTokenTtlSeconds | quote }}
REFRESH_TOKEN_TTL_SECONDS: {{ .Values.api.jwt.refreshTokenTtlSeconds | quote }}
CORS_ORIGINS: {{ include "chat.origins" . | quote }}
COOKIE_SECURE: {{ .Values.config.cookieSecure | quote }}
INTERNAL_MAX_BODY_BYTES: {{ .Values.api.internalMaxBodyBytes | int64 | quote }}
{{- range $k, $v := .Values.api.extraEnv }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "chat.api.secretVars" -}}
{{- dict "JWT_SECRET" "jwtSecret" "DATABASE_URL" "databaseUrl" "REDIS_URL" "redisUrl" | toYaml -}}
{{- end -}}
