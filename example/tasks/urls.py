from django.urls import path

from tasks import views

app_name = "tasks"
urlpatterns = [
    path("", views.org_list, name="org-list"),
    path("<slug:slug>/tasks/", views.task_list, name="task-list"),
    path("<slug:slug>/tasks/new/", views.task_create, name="task-create"),
    path("<slug:slug>/tasks/export.csv", views.task_export, name="task-export"),
    path("<slug:slug>/tasks/<int:pk>/edit/", views.task_edit, name="task-edit"),
    path("<slug:slug>/exports/<uuid:export_id>/", views.export_status, name="export-status"),
    path("<slug:slug>/exports/<uuid:export_id>/download.csv", views.export_download, name="export-download"),
]
