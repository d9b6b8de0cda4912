from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from tasks.models import Org, Task


class TaskForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Task
        fields = ["title", "description", "status", "assignee"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, org: Org, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the org's members can be assigned; anyone else is a validation error.
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ModelChoiceField)
        assignee.queryset = get_user_model().objects.filter(memberships__org=org).order_by("username")
