{{/* NetworkPolicy pieces. The ingress controller presets follow the official charts' pod
labels; namespaces match by the kubernetes.io/metadata.name label every namespace carries. */}}

{{/* preset name -> {namespaces, podLabels}; "auto" maps ingress.className onto one of these. */}}
{{- define "chat.np.presets" -}}
ingress-nginx:
  # kubernetes/ingress-nginx chart, its kind/cloud manifests and the minikube addon.
  namespaces: [ingress-nginx]
  podLabels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller}
traefik:
  # traefik/traefik chart: k3s installs it in kube-system, the chart's docs use "traefik".
  namespaces: [kube-system, traefik]
  podLabels: {app.kubernetes.io/name: traefik}
haproxy:
  # haproxytech/kubernetes-ingress chart (HAProxy Kubernetes Ingress Controller).
  namespaces: [haproxy-controller]
  podLabels: {app.kubernetes.io/name: kubernetes-ingress}
{{- end -}}

{{- define "chat.np.classPresets" -}}
nginx: ingress-nginx
traefik: traefik
haproxy: haproxy
{{- end -}}

{{/* The preset in force: "auto" resolved through ingress.className, or fails saying what to set. */}}
{{- define "chat.np.preset" -}}
{{- $ic := .Values.networkPolicy.ingressController -}}
{{- if and (ne $ic.preset "custom") (or $ic.namespaceSelector $ic.podSelector) -}}
{{- fail (printf "networkPolicy.ingressController.namespaceSelector/podSelector are used only with preset=custom (preset is %q): set preset=custom, or drop them and use namespaces to move a preset" $ic.preset) -}}
{{- end -}}
{{- if eq $ic.preset "auto" -}}
{{- $byClass := include "chat.np.classPresets" . | fromYaml -}}
{{- $preset := get $byClass .Values.ingress.className -}}
{{- if not $preset -}}
{{- fail (printf "networkPolicy.ingressController.preset=auto knows no controller for ingress.className %q: set the preset to ingress-nginx, traefik, haproxy, custom (with namespaceSelector and podSelector), none (with ipBlocks) or any-namespace" .Values.ingress.className) -}}
{{- end -}}
{{- $preset -}}
{{- else -}}
{{- $ic.preset -}}
{{- end -}}
{{- end -}}

{{/* NetworkPolicyPeers allowed to reach the routed ports (a YAML list, possibly empty). */}}
{{- define "chat.np.controllerPeers" -}}
{{- $ic := .Values.networkPolicy.ingressController -}}
{{- $preset := include "chat.np.preset" . -}}
{{- $presets := include "chat.np.presets" . | fromYaml -}}
{{- if hasKey $presets $preset }}
{{- $p := get $presets $preset }}
- namespaceSelector:
    matchExpressions:
      - key: kubernetes.io/metadata.name
        operator: In
        values: {{ toJson (default $p.namespaces $ic.namespaces) }}
  podSelector:
    matchLabels:
      {{- toYaml $p.podLabels | nindent 6 }}
{{- else if eq $preset "custom" }}
{{- $ns := $ic.namespaceSelector }}{{ $pod := $ic.podSelector }}
{{- if or (not (or $ns.matchLabels $ns.matchExpressions)) (not (or $pod.matchLabels $pod.matchExpressions)) }}
{{- fail "networkPolicy.ingressController.preset=custom needs both namespaceSelector and podSelector (an empty selector would admit every namespace or pod: say preset=any-namespace if that is what you want)" }}
{{- end }}
- namespaceSelector:
    {{- toYaml $ic.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml $ic.podSelector | nindent 4 }}
{{- else if eq $preset "any-namespace" }}
# Explicit choice (networkPolicy.ingressController.preset=any-namespace): every pod anywhere.
- namespaceSelector: {}
{{- else if and (eq $preset "none") (not $ic.ipBlocks) }}
{{- fail "networkPolicy.ingressController.preset=none admits no in-cluster controller, so ipBlocks must list the load balancer ranges (otherwise nothing can reach the app)" }}
{{- end }}
{{- range $ic.ipBlocks }}
- ipBlock:
    cidr: {{ . }}
{{- end }}
{{- end -}}

{{/* One line for NOTES.txt: who may reach the routed ports. */}}
{{- define "chat.np.controllerSummary" -}}
{{- $ic := .Values.networkPolicy.ingressController -}}
{{- $preset := include "chat.np.preset" . -}}
{{- $presets := include "chat.np.presets" . | fromYaml -}}
{{- if hasKey $presets $preset -}}
{{- $p := get $presets $preset -}}
{{- $labels := list -}}
{{- range $k, $v := $p.podLabels }}{{ $labels = append $labels (printf "%s=%s" $k $v) }}{{ end -}}
{{ $preset }} pods ({{ join "," $labels }}) in namespace(s) {{ join ", " (default $p.namespaces $ic.namespaces) }}
{{- else if eq $preset "custom" -}}
custom selectors: namespaces {{ toJson $ic.namespaceSelector }}, pods {{ toJson $ic.podSelector }}
{{- else if eq $preset "any-namespace" -}}
ANY pod in ANY namespace (preset any-namespace)
{{- else -}}
no in-cluster controller (preset none)
{{- end -}}
{{- with $ic.ipBlocks }}, plus {{ join ", " . }}{{ end -}}
{{- if eq $ic.preset "auto" }} [auto, from ingress.className {{ .Values.ingress.className | quote }}]{{ end -}}
{{- end -}}

{{/* Egress to the datastores in .stores (["postgres"], ["redis"] or both) for one component:
in-cluster pods (k8s-dev) and/or the external CIDRs declared for that store. */}}
{{- define "chat.np.datastoreEgress" -}}
{{- $np := .root.Values.networkPolicy -}}
{{- $stores := .stores -}}
{{- if $np.datastores.enabled }}
{{- range $stores }}
{{- $ds := get $np.datastores . }}
- to:
    - podSelector:
        {{- toYaml $ds.podSelector | nindent 8 }}
  ports:
    - {protocol: TCP, port: {{ $ds.port }}}
{{- end }}
{{- end }}
{{- range $np.externalDatastores }}
{{- if has .store $stores }}
- to:
    - ipBlock:
        cidr: {{ .cidr }}
  ports:
    {{- range .ports }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
{{- end }}
{{- end }}
{{- if and (not $np.datastores.enabled) (not $np.externalDatastores) }}
# Nothing declared: allow this component's datastore ports to any address rather than cut it off.
- ports:
    {{- range $stores }}
    - {protocol: TCP, port: {{ (get $np.datastores .).port }}}
    {{- end }}
{{- end }}
{{- end -}}
