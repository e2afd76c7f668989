"""`lenet5 train`'s flags, made from lenet5.settings.TrainSettings: one flag per field that
has one, its type, choices, help and recipe values read off the field's declaration.

argparse rather than a CLI library (tyro, jsonargparse, pydantic-settings' CLI): the
commands, their flags, help layout and error messages stay exactly what users and
scripts already know, and this adapter is short. Every flag defaults to None, "not
given", so the recipe's value stays unless the user overrides it.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

from lenet5 import settings
from lenet5.settings import RECIPE_SUMMARIES, Setting, settings_fields, shown


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every TrainSettings field that has one, and --recipe."""
    parser.add_argument(
        "--recipe",
        metavar="RECIPE",
        help="hyper-parameter set the other settings start from: "
        + "; ".join(f"{name} ({summary})" for name, summary in RECIPE_SUMMARIES.items())
        + ". Default: the network's own (paper for lenet5, else seed). Flags override the recipe.",
    )
    for name, setting in settings_fields().items():
        if setting.flag:
            _add_flag(parser, name, setting)


def _add_flag(parser: argparse.ArgumentParser, name: str, setting: Setting) -> None:
    info = settings.TrainSettings.model_fields[name]
    flag = settings.flag_of(name)
    help_text = setting.help + _defaults_note(name, setting, info.default)
    base = _without_none(info.annotation)
    if base is bool:
        # A flag that is on by default, or that a recipe turns on, can be turned off too
        # (--no-distort, --no-test-each-epoch).
        switchable = bool(info.default) or any(setting.recipes.values())
        action = argparse.BooleanOptionalAction if switchable else "store_true"
        parser.add_argument(flag, dest=name, action=action, default=None, help=help_text)
        return
    if typing.get_origin(base) is Literal:
        choices = typing.get_args(base)
        if setting.free_text:  # checked with the settings: one line naming the known values
            help_text = f"{setting.help}: {' or '.join(choices)}{_defaults_note(name, setting, info.default)}"
            parser.add_argument(flag, dest=name, default=None, metavar=name.upper(), help=help_text)
        else:
            parser.add_argument(flag, dest=name, choices=choices, default=None, help=help_text)
        return
    parser.add_argument(
        flag, dest=name, type=_parser_for(name), default=None, metavar=setting.metavar or name.upper(), help=help_text
    )


def _without_none(annotation: Any) -> Any:
    """`int | None` -> int; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _parser_for(name: str) -> Callable[[str], Any]:
    """Parse a flag's text as its field's type. Its bounds are checked with the settings
    (lenet5.settings.from_recipe), so a value out of range is one line naming the flag."""
    base = _without_none(settings.TrainSettings.model_fields[name].annotation)
    kind = int if _is_int(base) else float if _is_float(base) else str

    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            expected = {int: "a whole number", float: "a number"}.get(kind, "text")
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def _is_int(annotation: Any) -> bool:
    return _bare(annotation) is int


def _is_float(annotation: Any) -> bool:
    return _bare(annotation) is float


def _bare(annotation: Any) -> Any:
    """`Annotated[int, ...]` -> int."""
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def _defaults_note(name: str, setting: Setting, default: Any) -> str:
    """'(default 0.001; recipe paper 0.00015, strong 0.002)': read off the declaration."""
    parts = []
    if default is not None and default is not False:
        parts.append(f"default {shown(default)}")
    if setting.recipes:
        values = ", ".join(f"{recipe} {shown(value)}" for recipe, value in setting.recipes.items())
        condition = (
            f" with --{setting.only_with.replace('_', '-')}"
            if setting.only_with
            else f" for --model {setting.only_for_model}"
            if setting.only_for_model
            else ""
        )
        parts.append(f"recipe {values}{condition}")
    return f" ({'; '.join(parts)})" if parts else ""


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user gave on the command line (None: not given)."""
    return {name: getattr(args, name, None) for name, setting in settings_fields().items() if setting.flag}
