{{- define "taskmanager.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "taskmanager.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "taskmanager.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "taskmanager.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- /* Every TaskManager pod runs as the image's unprivileged user. */}}
{{- define "taskmanager.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  fsGroup: 10001
{{- end }}

{{- define "taskmanager.secretName" -}}
{{- .Values.taskmanager.existingSecret | default (include "taskmanager.fullname" .) }}
{{- end }}

{{- define "taskmanager.dbHost" -}}
{{- if .Values.taskmanager.db.host }}
{{- .Values.taskmanager.db.host }}
{{- else if .Values.postgresql.enabled }}
{{- include "taskmanager.fullname" . }}-postgresql
{{- end }}
{{- end }}

{{- define "taskmanager.broker" -}}
{{- if .Values.taskmanager.callbacks.broker }}
{{- .Values.taskmanager.callbacks.broker }}
{{- else if .Values.rabbitmq.enabled }}
{{- printf "amqp://%s:%s@%s-rabbitmq:5672//" .Values.rabbitmq.username (required "set rabbitmq.password" .Values.rabbitmq.password) (include "taskmanager.fullname" .) }}
{{- end }}
{{- end }}

{{- /* The server's configuration, shared by the server and worker containers. */}}
{{- define "taskmanager.env" -}}
- name: TASKMANAGER_PORT
  value: {{ .Values.taskmanager.port | quote }}
- name: GUNICORN_WORKER_CLASS
  value: {{ .Values.taskmanager.gunicorn.workerClass | quote }}
- name: GUNICORN_WORKER_CONNECTIONS
  value: {{ .Values.taskmanager.gunicorn.workerConnections | quote }}
- name: GUNICORN_TIMEOUT
  value: {{ .Values.taskmanager.gunicorn.timeout | quote }}
- name: GUNICORN_WORKERS
  value: {{ .Values.taskmanager.gunicorn.workers | quote }}
- name: TASKMAN_INSTANCE_NAME
  value: {{ .Values.taskmanager.instanceName | quote }}
- name: TASKMAN_PROJECT_NAME
  value: {{ .Values.taskmanager.projectName | quote }}
- name: DB_DRIVER
  value: {{ .Values.taskmanager.db.driver | quote }}
- name: DB_HOST
  value: {{ required "set taskmanager.db.host or postgresql.enabled" (include "taskmanager.dbHost" .) | quote }}
- name: DB_PORT
  value: {{ .Values.taskmanager.db.port | quote }}
- name: DB_NAME
  value: {{ .Values.taskmanager.db.name | quote }}
- name: DB_USER
  value: {{ .Values.taskmanager.db.user | quote }}
{{- if .Values.taskmanager.db.schema }}
- name: DB_SCHEMA
  value: {{ .Values.taskmanager.db.schema | quote }}
{{- end }}
- name: DB_PASS
  valueFrom:
    secretKeyRef:
      name: {{ include "taskmanager.secretName" . }}
      key: DB_PASS
- name: SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "taskmanager.secretName" . }}
      key: SECRET_KEY
- name: SECURITY_PASSWORD_SALT
  valueFrom:
    secretKeyRef:
      name: {{ include "taskmanager.secretName" . }}
      key: SECURITY_PASSWORD_SALT
- name: SECURITY_REGISTERABLE
  value: {{ .Values.taskmanager.security.registerable | quote }}
- name: SECURITY_CHANGEABLE
  value: {{ .Values.taskmanager.security.changable | quote }}
- name: SECURITY_RECOVERABLE
  value: {{ .Values.taskmanager.security.recoverable | quote }}
- name: SECURITY_CONFIRMABLE
  value: {{ .Values.taskmanager.security.confirmable | quote }}
- name: TASKMAN_ADMIN_USERNAME
  value: {{ .Values.taskmanager.admin.username | quote }}
- name: TASKMAN_ADMIN_EMAIL
  value: {{ .Values.taskmanager.admin.email | quote }}
- name: TASKMAN_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "taskmanager.secretName" . }}
      key: TASKMAN_ADMIN_PASSWORD
- name: TASKMAN_CALLBACK_METHOD
  value: {{ .Values.taskmanager.callbacks.method | quote }}
- name: TASKMAN_CELERY_BROKER
  valueFrom:
    secretKeyRef:
      name: {{ include "taskmanager.secretName" . }}
      key: TASKMAN_CELERY_BROKER
- name: TASKMAN_LOG_FORMAT
  value: {{ .Values.taskmanager.logFormat | quote }}
{{- if .Values.migrations.job }}
# The migration Job migrates once per release; the pods must not each do it at start.
- name: TASKMAN_AUTO_MIGRATE
  value: "false"
{{- end }}
{{- if .Values.ingress.enabled }}
# Behind the ingress: trust its X-Forwarded-* headers and serve under its path.
- name: TASKMAN_PROXY_COUNT
  value: "1"
- name: TASKMAN_URL_PREFIX
  value: {{ .Values.ingress.path | quote }}
{{- end }}
{{- if .Values.taskmanager.project.git.url }}
- name: PROJECT_REPO
  value: {{ .Values.taskmanager.project.git.url | quote }}
- name: PROJECT_BRANCH
  value: {{ .Values.taskmanager.project.git.branch | quote }}
- name: PROJECT_RELATIVE_PATH
  value: {{ .Values.taskmanager.project.git.relativePath | quote }}
{{- end }}
{{- if .Values.taskmanager.externalUrl }}
- name: TASKMAN_EXTERNAL_URL
  value: {{ .Values.taskmanager.externalUrl | quote }}
{{- end }}
{{- if .Values.taskmanager.sentryDsn }}
- name: SENTRY_DSN
  value: {{ .Values.taskmanager.sentryDsn | quote }}
{{- end }}
{{- with .Values.taskmanager.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
