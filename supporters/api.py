from django.db import models
from django.db.models import Prefetch

from accounts.api_base import ReadWriteViewSet
from accounts.models import Role
from supporters.models import Certification, Supporter
from supporters.serializers import SupporterSerializer


class SupporterViewSet(ReadWriteViewSet):
    model = Supporter
    serializer_class = SupporterSerializer
    write_roles = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}}
    filterset_fields = ["program", "site", "is_active", "external_id"]
    ordering_fields = ["last_name", "first_name", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().prefetch_related(
            Prefetch("certifications", queryset=Certification.objects.order_by("id"))
        )
