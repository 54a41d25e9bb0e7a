{{/* Names ------------------------------------------------------------------ */}}
{{- define "chat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chat.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>", e.g. chat-api; component names match the image names. */}}
{{- define "chat.component" -}}
{{- printf "%s-%s" (include "chat.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels --------------------------------------------------------------- */}}
{{- define "chat.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chat.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "chat.labels" -}}
{{ include "chat.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: chat
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Images --------------------------------------------------------------- */}}
{{- define "chat.image" -}}
{{- $repo := .image.repository -}}
{{- with .root.Values.global.imageRegistry }}{{ $repo = printf "%s/%s" . $repo }}{{ end -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "chat.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Secrets: only an existing Secret, never chart-made defaults ------------ */}}
{{- define "chat.secretName" -}}
{{- if not .Values.secrets.existingSecret -}}
{{- fail "secrets.existingSecret is required: create a Secret with keys JWT_SECRET, DATABASE_URL and REDIS_URL (kubectl create secret generic chat-secrets --from-literal=...) and pass --set secrets.existingSecret=<name>; this chart never creates secrets" -}}
{{- end -}}
{{- .Values.secrets.existingSecret -}}
{{- end -}}

{{/* .vars maps env var name -> key field under secrets.keys, e.g. {"JWT_SECRET": "jwtSecret"}. */}}
{{- define "chat.secretEnv" -}}
{{- $secret := include "chat.secretName" .root -}}
{{- range $env, $field := .vars }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ get $.root.Values.secrets.keys $field }}
{{- end }}
{{- end -}}

{{/* Origins the browser uses: explicit list or derived from the Ingress host. */}}
{{- define "chat.origins" -}}
{{- if .Values.config.publicOrigins -}}
{{- join "," .Values.config.publicOrigins -}}
{{- else if .Values.ingress.host -}}
{{- printf "https://%s,http://%s" .Values.ingress.host .Values.ingress.host -}}
{{- else -}}
{{- print "http://localhost,https://localhost,http://127.0.0.1,https://127.0.0.1,http://localhost:8080" -}}
{{- end -}}
{{- end -}}

{{/* Pod-level pieces ---------------------------------------------------- */}}
{{- define "chat.podSecurityContext" -}}
securityContext:
  {{- toYaml .Values.podDefaults.podSecurityContext | nindent 2 }}
{{- end -}}

{{- define "chat.containerSecurityContext" -}}
{{- $ctx := deepCopy .root.Values.podDefaults.containerSecurityContext -}}
{{- if hasKey . "readOnlyRootFilesystem" }}{{ $_ := set $ctx "readOnlyRootFilesystem" .readOnlyRootFilesystem }}{{ end -}}
securityContext:
  {{- toYaml $ctx | nindent 2 }}
{{- end -}}

{{- define "chat.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.podDefaults.tmpSizeLimit }}
{{- end -}}

{{- define "chat.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "chat.topologySpread" -}}
{{- if .root.Values.podDefaults.topologySpread.enabled }}
topologySpreadConstraints:
{{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: {{ $.root.Values.podDefaults.topologySpread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "chat.selectorLabels" $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* One probe block: .probe = {path, periodSeconds, ...}, .port = port name. */}}
{{- define "chat.probe" -}}
httpGet:
  path: {{ .probe.path }}
  port: {{ .port }}
periodSeconds: {{ .probe.periodSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
{{- end -}}

{{- define "chat.probes" -}}
startupProbe:
  {{- include "chat.probe" (dict "probe" .probes.startup "port" .port) | nindent 2 }}
livenessProbe:
  {{- include "chat.probe" (dict "probe" .probes.liveness "port" .port) | nindent 2 }}
readinessProbe:
  {{- include "chat.probe" (dict "probe" .probes.readiness "port" .port) | nindent 2 }}
{{- end -}}

{{- define "chat.hpa" -}}
{{- $as := .values.autoscaling -}}
{{- if $as.enabled }}
{{- if gt (int $as.minReplicas) (int $as.maxReplicas) }}
{{- $key := ternary "gateway" .component (eq .component "ws-gateway") }}
{{- fail (printf "%s.autoscaling.minReplicas (%v) must not exceed %s.autoscaling.maxReplicas (%v): the HorizontalPodAutoscaler would be rejected" $key $as.minReplicas $key $as.maxReplicas) }}
{{- end }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "chat.component" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "chat.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "chat.component" . }}
  minReplicas: {{ $as.minReplicas }}
  maxReplicas: {{ $as.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $as.targetCPUUtilizationPercentage }}
    {{- with $as.connections }}
    {{- if .enabled }}
    - type: Pods
      pods:
        metric:
          name: {{ .metricName }}
        target:
          type: AverageValue
          averageValue: {{ .averageValue | quote }}
    {{- end }}
    {{- end }}
  behavior:
    scaleDown:
      # Slow scale-down: a removed gateway pod drains and moves its sockets; others avoid flapping.
      stabilizationWindowSeconds: 300
      policies:
        - type: Pods
          value: 1
          periodSeconds: 60
{{- end }}
{{- end -}}

{{- define "chat.pdb" -}}
{{- if .values.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "chat.component" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "chat.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "chat.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
