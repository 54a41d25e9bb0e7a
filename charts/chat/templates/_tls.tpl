{{/* TLS at the Ingress: a Secret you bring (ingress.tls), or one cert-manager fills from the
Certificate this chart renders (ingress.certManager). */}}

{{/* "true" when the Ingress serves HTTPS, "" otherwise. */}}
{{- define "chat.tls.on" -}}
{{- if and .Values.ingress.enabled (or .Values.ingress.tls .Values.ingress.certManager.enabled) -}}
true
{{- end -}}
{{- end -}}

{{- define "chat.tls.certSecretName" -}}
{{- default (printf "%s-tls" (include "chat.fullname" .)) .Values.ingress.certManager.secretName -}}
{{- end -}}

{{/* The Ingress's spec.tls list, after refusing combinations that cannot work. */}}
{{- define "chat.tls.blocks" -}}
{{- $ing := .Values.ingress -}}
{{- if $ing.certManager.enabled }}
{{- if not $ing.host }}
{{- fail "ingress.certManager.enabled needs ingress.host: a certificate names a DNS host, and an Ingress rule without a host matches every name" }}
{{- end }}
{{- if not $ing.certManager.issuerRef.name }}
{{- fail "ingress.certManager.issuerRef.name is required: the Issuer or ClusterIssuer that signs the certificate (k8s-dev: chat-dev-ca, kind Issuer)" }}
{{- end }}
{{- if $ing.tls }}
{{- fail "ingress.certManager.enabled and ingress.tls both set: use ingress.tls for a Secret you provide, or certManager for one cert-manager makes, not both" }}
{{- end }}
{{- if or (hasKey $ing.annotations "cert-manager.io/cluster-issuer") (hasKey $ing.annotations "cert-manager.io/issuer") }}
{{- fail "ingress.certManager.enabled with a cert-manager.io issuer annotation: cert-manager's ingress-shim would make a second Certificate for the same Secret; keep one of the two" }}
{{- end }}
- secretName: {{ include "chat.tls.certSecretName" . }}
  hosts: [{{ $ing.host | quote }}]
{{- else if $ing.tls }}
{{- toYaml $ing.tls }}
{{- end }}
{{- end -}}
