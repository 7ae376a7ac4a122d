from django.db import migrations

# BARC-10 (Brief Assessment of Recovery Capital, Vilsaint et al. 2017) is free to use.
# Item labels are neutral placeholders; administer from the published form.
BARC10_ITEMS = [f"Item {n}" for n in range(1, 11)]


def add_barc10(apps, schema_editor):
    Instrument = apps.get_model("clients", "Instrument")
    Instrument.objects.get_or_create(
        program=None,
        code="barc-10",
        defaults={
            "name": "BARC-10 (Brief Assessment of Recovery Capital)",
            "items": BARC10_ITEMS,
            "item_min": 1,
            "item_max": 6,
            "higher_is_better": True,
            "source_note": "Free to use. 10 items, 1 = strongly disagree … 6 = strongly agree; total 10–60.",
        },
    )


def remove_barc10(apps, schema_editor):
    apps.get_model("clients", "Instrument").objects.filter(program=None, code="barc-10").delete()


class Migration(migrations.Migration):
    dependencies = [("clients", "0002_clientpreference_instrument_outcomemeasure_and_more")]
    operations = [migrations.RunPython(add_barc10, remove_barc10)]
