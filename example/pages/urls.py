from django.urls import path

from pages import views

urlpatterns = [
    path("", views.home, name="home"),
    path("raise-error/", views.raise_error, name="raise-error"),
    path("recent-tasks/", views.recent_tasks, name="recent-tasks"),
]
