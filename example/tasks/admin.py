from django.contrib import admin

from tasks.models import Export, Membership, Org, Task


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "org", "role"]
    list_filter = ["role", "org"]
    search_fields = ["user__username", "org__name", "org__slug"]
    raw_id_fields = ["user"]
    list_select_related = ["user", "org"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "org", "status", "assignee", "created_by", "updated_at"]
    list_filter = ["status", "org"]
    search_fields = ["title", "description"]
    raw_id_fields = ["assignee", "created_by"]
    list_select_related = ["org", "assignee", "created_by"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "org", "requested_by", "state", "row_count", "request_id", "created_at"]
    list_filter = ["state"]
    exclude = ["content"]
    readonly_fields = ["request_id"]
