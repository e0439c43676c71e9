"""``python3 -m vllm_vertex.doctor [DIR]``: write the custom role files (``docs/iam/*.yaml``) from the grants."""

from __future__ import annotations

import pathlib
import sys

from vllm_vertex.doctor import CUSTOM_ROLES, custom_role_yaml


def main(argv: list[str]) -> None:
    folder = pathlib.Path(argv[0] if argv else "docs/iam")
    folder.mkdir(parents=True, exist_ok=True)
    for identity in CUSTOM_ROLES:
        (folder / f"{identity}.yaml").write_text(custom_role_yaml(identity))
        print(folder / f"{identity}.yaml")


if __name__ == "__main__":
    main(sys.argv[1:])
