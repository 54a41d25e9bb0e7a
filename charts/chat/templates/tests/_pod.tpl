{{/* Shared pod settings for helm test pods (same PSS-restricted posture as the app). */}}
{{- define "chat.testPodSpec" -}}
restartPolicy: Never
automountServiceAccountToken: false
enableServiceLinks: false
{{ include "chat.imagePullSecrets" . }}
{{ include "chat.podSecurityContext" . }}
volumes:
  {{- include "chat.tmpVolume" . | nindent 2 }}
{{- end -}}
