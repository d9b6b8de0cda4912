from django.urls import path

from tasks import views

app_name = "tasks"
urlpatterns = [
    path("", views.org_list, name="org-list"),
    path("<slug:slug>/tasks/", views.task_list, name="task-list"),
    path("<slug:slug>/tasks/new/", views.task_create, name="task-create"),
    path("<slug:slug>/tasks/export.csv", views.task_export, name="task-export"),
    path("<slug:slug>/tasks/<int:pk>/edit/", views.task_edit, name="task-edit"),
]
