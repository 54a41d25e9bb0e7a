{{/* Shared pod settings for helm test pods (same PSS-restricted posture as the app). */}}
{{- define "chat.testPodSpec" -}}
restartPolicy: Never
# The scripts stop themselves after tests.timeoutSeconds; this also bounds a pull or a hang.
activeDeadlineSeconds: {{ add .Values.tests.timeoutSeconds 120 }}
automountServiceAccountToken: false
enableServiceLinks: false
{{ include "chat.imagePullSecrets" . }}
{{ include "chat.podSecurityContext" . }}
volumes:
  {{- include "chat.tmpVolume" . | nindent 2 }}
  - name: scripts
    configMap:
      name: {{ include "chat.fullname" . }}-tests
{{- end -}}

{{- define "chat.testMounts" -}}
{{ include "chat.tmpMount" . }}
- name: scripts
  mountPath: /test
  readOnly: true
{{- end -}}
