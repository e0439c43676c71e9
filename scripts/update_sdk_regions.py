"""Writes vllm_vertex/sdk_regions.py from the installed Vertex AI SDK's region list.

``python scripts/update_sdk_regions.py`` after changing the google-cloud-aiplatform pin;
``tests/test_regions.py`` fails until the table equals the pinned SDK's list. The table exists
so that compiling and the CLI never import aiplatform (3-4 s) to validate a region.
"""

from __future__ import annotations

import pathlib
import sys

TARGET = pathlib.Path(__file__).resolve().parent.parent / "vllm_vertex" / "sdk_regions.py"


def render() -> str:
    """The module's text for the installed SDK."""
    from google.cloud.aiplatform import version
    from google.cloud.aiplatform.constants import base

    rows = "".join(f'        "{r}",\n' for r in sorted(base.SUPPORTED_REGIONS))
    return (
        '"""Regions the Vertex AI SDK supports, copied from google-cloud-aiplatform. Generated: do not edit.\n\n'
        "Written by ``scripts/update_sdk_regions.py`` from\n"
        "``google.cloud.aiplatform.constants.base.SUPPORTED_REGIONS`` so that nothing on the compile or\n"
        "CLI start path imports aiplatform; ``tests/test_regions.py`` keeps it equal to the pinned SDK's list.\n"
        '"""\n\n'
        f'SDK_VERSION = "{version.__version__}"\n\n'
        f"SUPPORTED_REGIONS: frozenset[str] = frozenset(\n    {{\n{rows}    }}\n)\n"
    )


def main() -> int:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
