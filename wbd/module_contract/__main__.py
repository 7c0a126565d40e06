"""`python -m wbd.module_contract`: regenerate (or check) the contract files from git checkouts of the modules.

python -m wbd.module_contract --aws ../terraform-aws-wandb --kubernetes ../terraform-kubernetes-wandb
python -m wbd.module_contract --aws ... --kubernetes ... --check   # exit 1 when the committed files differ
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wandb_deployer.contract import APP_MODULE, AWS_MODULE, CONTRACT_FILES, contract_data_directory
from wbd.module_contract.build import build_contract, encode_contract
from wbd.module_contract.git_tags import GitReadError, files_at, release_tags
from wbd.module_contract.hcl_interface import HclReadError, read_release

REPOSITORIES = {
    AWS_MODULE: "https://github.com/wandb/terraform-aws-wandb",
    APP_MODULE: "https://github.com/wandb/terraform-kubernetes-wandb",
}


def generate(module: str, checkout: Path) -> str:
    """The encoded contract of `module` from the git repository at `checkout` (every release tag)."""
    releases = release_tags(checkout)
    interfaces = []
    for release in releases:
        try:
            interfaces.append(read_release(files_at(checkout, release.commit)))
        except HclReadError as exc:
            raise HclReadError(f"{release.tag}: {exc}") from exc
    return encode_contract(build_contract(module, REPOSITORIES[module], releases, interfaces))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wbd.module_contract", description=__doc__.splitlines()[0])
    parser.add_argument("--aws", type=Path, required=True, help="git checkout of wandb/terraform-aws-wandb")
    parser.add_argument(
        "--kubernetes", type=Path, required=True, help="git checkout of wandb/terraform-kubernetes-wandb"
    )
    parser.add_argument("--out", type=Path, default=contract_data_directory(), help="where the contract files go")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for module, checkout in ((AWS_MODULE, args.aws), (APP_MODULE, args.kubernetes)):
        try:
            text = generate(module, checkout)
        except (GitReadError, HclReadError) as exc:
            print(f"error: {module}: {exc}", file=sys.stderr)
            return 2
        target = args.out / CONTRACT_FILES[module]
        if args.check:
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            if current != text:
                stale.append(str(target))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"{module}: {len(text.encode()):,} bytes -> {target}")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
