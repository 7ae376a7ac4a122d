from django.db import migrations

GENESIS_HASH = "0" * 64


def create_heads(apps, schema_editor):
    # A head for the program-less chain and for each program, so no request pays for creating
    # one on its chain's first event (programs made later get theirs on their first event).
    head = apps.get_model("audit", "AuditChainHead")
    program = apps.get_model("accounts", "Program")
    db = schema_editor.connection.alias
    have = set(head.objects.using(db).exclude(chain=None).values_list("chain", flat=True))
    wanted = [0, *program.objects.using(db).values_list("pk", flat=True)]
    head.objects.using(db).bulk_create(
        [head(chain=chain, last_id=0, last_hash=GENESIS_HASH, count=0) for chain in wanted if chain not in have]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_chain_per_program"),
        ("accounts", "0003_program_treatment_disclosures"),
    ]

    operations = [migrations.RunPython(create_heads, migrations.RunPython.noop)]
