"""The shipped BARC-10 gets its ten statements in place of the "Item n" placeholders (the
instrument is freely available; permission is not required), so a client can take it as a
self-check in the portal. A library row someone already edited is left as it is."""

from django.db import migrations

PLACEHOLDERS = [f"Item {n}" for n in range(1, 11)]
STATEMENTS = [
    "There are more important things to me in life than using substances.",
    "In general I am happy with my life.",
    "I have enough energy to complete the tasks I set myself.",
    "I am proud of the community I live in and feel part of it.",
    "I get lots of support from friends.",
    "I regard my life as challenging and fulfilling without the need for using drugs or alcohol.",
    "My living space has helped to drive my recovery journey.",
    "I take full responsibility for my actions.",
    "I am happy dealing with a range of professional people.",
    "I am making good progress on my recovery journey.",
]


def statements(apps, schema_editor):
    Instrument = apps.get_model("clients", "Instrument")
    Instrument.objects.filter(program=None, code="barc-10", items=PLACEHOLDERS).update(items=STATEMENTS)


def placeholders(apps, schema_editor):
    Instrument = apps.get_model("clients", "Instrument")
    Instrument.objects.filter(program=None, code="barc-10", items=STATEMENTS).update(items=PLACEHOLDERS)


class Migration(migrations.Migration):
    dependencies = [("clients", "0018_clientaccount")]

    operations = [migrations.RunPython(statements, placeholders)]
