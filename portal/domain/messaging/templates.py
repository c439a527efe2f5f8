"""Message templates that admins edit: sandboxed Jinja, per brand, key and language.

A mail has three parts (subject, HTML body, plain-text body), an SMS one (its text: a
spec names its `parts`). Each save is a new
version; the highest version is the one in use, and no version at all means the shipped
default from `defaults/<language>.toml`. Reverting saves an old version again as the newest.

Admins write the words; the system renders what the law or the product needs exactly
(the invoice table, the pay button, the costs notice with amount, costs and deadline, the
branded layout and the creditor's identity) and hands them in as variables. A template
that misses a required variable, uses one that does not exist, or breaks the sandbox is
refused with the part, the line and the reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes, pass_eval_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.filters import do_join, make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.problems import N_, Problem
from portal.models import LANGUAGES, MessageTemplate

PARTS = ("subject", "html", "text")  # every part a template can have
MAX_SOURCE = 20_000  # characters per part
# Caps while one part renders (the shipped texts for a debtor of 500 invoices stay far
# below them: about 110,000 characters, no loops, a few milliseconds):
MAX_OUTPUT = 1_000_000  # characters written in all, and the length of any string made
MAX_LOOPS = 50_000  # loop iterations, all loops (nested ones too) together
MAX_SECONDS = 2.0  # rendering time

_COMMON = ("debtor", "brand", "portal_link")
_OPEN = ("invoices", "total", "pay_link", "invoice_table", "pay_button")


@dataclass(frozen=True)
class Spec:
    """One editable message: the variables it may use and those it must use, per part."""

    key: str
    title: str  # what the message is, as the editor names it (a msgid, translated when shown)
    group: str  # "reminder", "sms" or "system"
    variables: tuple[str, ...]
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    parts: tuple[str, ...] = PARTS  # the parts an admin writes; an SMS has only "text"


def _reminder(kind: str, title: str, legal: bool) -> Spec:
    needs = ("invoice_table", "costs_notice") if legal else ("invoice_table",)
    return Spec(
        kind,
        title,
        "reminder",
        (*_COMMON, *_OPEN, "step", "costs", "deadline", "costs_notice"),
        {"html": (*needs, "pay_button"), "text": (*needs, "pay_link")},
    )


def _sms(kind: str, title: str) -> Spec:
    """The SMS of a reminder step: one plain-text part that must carry the pay-link."""
    return Spec(
        f"sms_{kind}",
        title,
        "sms",
        (*_COMMON, "invoices", "total", "pay_link", "step", "costs", "deadline"),
        {"text": ("pay_link",)},
        parts=("text",),
    )


SMS_PREFIX = "sms_"


def sms_key(step_kind: str) -> str:
    """The template key of a step's SMS ("sms_reminder")."""
    return SMS_PREFIX + step_kind


SPECS: dict[str, Spec] = {
    s.key: s
    for s in (
        _reminder("nudge", N_("Friendly note before the due date"), legal=False),
        # a Belgian consumer's first reminder carries the Book XIX notice in costs_notice;
        # a text that leaves it out gets it added when written (Composer.with_legal)
        _reminder("reminder", N_("Reminder"), legal=False),
        _reminder("notice", N_("Formal notice"), legal=True),
        _reminder("fourteen_day", N_("14-day letter"), legal=True),
        _sms("nudge", N_("SMS: friendly note before the due date")),
        _sms("reminder", N_("SMS: reminder")),
        _sms("notice", N_("SMS: formal notice")),
        _sms("fourteen_day", N_("SMS: 14-day letter")),
        Spec(
            "login_link",
            N_("Sign-in link"),
            "system",
            ("brand", "login_link", "login_button", "minutes", "several_accounts"),
            {"html": ("login_button",), "text": ("login_link",)},
        ),
        Spec(
            "new_invoices",
            N_("New invoices"),
            "system",
            (*_COMMON, *_OPEN, "first_due", "count"),
            {"html": ("invoice_table", "pay_button"), "text": ("invoice_table", "pay_link")},
        ),
        Spec(
            "second_chance",
            N_("Second chance after a failed payment"),
            "system",
            (*_COMMON, *_OPEN, "days"),
            {"html": ("pay_button",), "text": ("pay_link",)},
        ),
        Spec(
            "request_update",
            N_("Answer to a request"),
            "system",
            (*_COMMON, "request", "answer", "requests_link"),
            {"html": ("answer",), "text": ("answer",)},
        ),
        Spec(
            "plan_update",
            N_("Payment plan proposed or changed"),
            "system",
            (*_COMMON, "plan", "schedule_table", "note", "plan_link"),
            {"html": ("schedule_table",), "text": ("schedule_table", "plan_link")},
        ),
        Spec(
            "email_confirm",
            N_("Confirm a new email address"),
            "system",
            ("debtor", "brand", "confirm_link", "confirm_button", "hours", "email"),
            {"html": ("confirm_button",), "text": ("confirm_link",)},
        ),
        Spec(
            "email_changed",
            N_("Email address changed (to the old addresses)"),
            "system",
            _COMMON,
        ),
        Spec(
            "receipt",
            N_("Payment receipt"),
            "system",
            (*_COMMON, "amount", "paid_on", "reference", "invoice_table", "credit"),
            {"html": ("amount",), "text": ("amount",)},
        ),
        Spec(
            "instalment_due",
            N_("Instalment due"),
            "system",
            (*_COMMON, "instalment", "pay_link", "pay_button", "plan_link"),
            {"html": ("pay_button",), "text": ("pay_link",)},
        ),
        Spec(
            "plan_breached",
            N_("Payment plan ended: an instalment was missed"),
            "system",
            (*_COMMON, *_OPEN, "instalment", "plan_link"),
            {"html": ("invoice_table", "pay_button"), "text": ("invoice_table", "pay_link")},
        ),
    )
}

# What each variable holds, for the editor's reference list (msgids; the page translates).
VARIABLE_HELP: dict[str, str] = {
    "debtor": N_("debtor.name, debtor.number"),
    "brand": N_("brand.name, brand.support_email, brand.support_phone, brand.iban"),
    "portal_link": N_("the address of the debtor's portal"),
    "invoices": N_(
        "the invoices: for each, number, amount, open, invoice_date, due_date, days_overdue"
    ),
    "total": N_("the open total, formatted"),
    "pay_link": N_("the personal pay-link"),
    "invoice_table": N_("the table of invoices with the total (rendered by the system)"),
    "pay_button": N_("the pay button with the pay-link (rendered by the system)"),
    "step": N_("step.kind: nudge, reminder, notice or fourteen_day"),
    "costs": N_("the collection costs announced, formatted (empty when none)"),
    "deadline": N_("the last day to pay before costs, formatted"),
    "costs_notice": N_(
        "the legal notice: amount, costs and deadline date, or what a free first reminder"
        " must state in Belgium (rendered by the system; empty when there is none)"
    ),
    "login_link": N_("the sign-in link"),
    "login_button": N_("the sign-in button (rendered by the system)"),
    "minutes": N_("how long the sign-in link works, in minutes"),
    "several_accounts": N_("true when the address belongs to several accounts"),
    "first_due": N_("the earliest due date, formatted"),
    "count": N_("how many invoices"),
    "days": N_("how many days the pay-link works"),
    "amount": N_("the amount received, formatted"),
    "paid_on": N_("the day of payment, formatted"),
    "reference": N_("the payment reference"),
    "credit": N_("what was paid beyond the open amount, formatted (empty when none)"),
    "request": N_("request.kind, request.state (in words), request.invoice (number or empty)"),
    "answer": N_("the answer written in the inbox"),
    "requests_link": N_("the address of the debtor's requests page"),
    "plan": N_("plan.status (in words), plan.total (formatted), plan.count (instalments)"),
    "schedule_table": N_("the table of instalments with due dates (rendered by the system)"),
    "note": N_("the note written by the admin (empty when none)"),
    "plan_link": N_("the address of the plan in the debtor's portal"),
    "confirm_link": N_("the link that confirms the new email address"),
    "confirm_button": N_("the confirm button (rendered by the system)"),
    "hours": N_("how long the confirmation link works, in hours"),
    "email": N_("the new email address"),
    "instalment": N_(
        "instalment.seq, instalment.count, instalment.amount, instalment.due_date,"
        " instalment.overdue (true once the due date has passed), instalment.days_overdue"
    ),
}


@dataclass(frozen=True)
class Source:
    """The three parts of a template as an admin writes them."""

    subject: str
    html: str
    text: str

    def part(self, name: str) -> str:
        return str(getattr(self, name))


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str  # the body only: the layout wraps it
    text: str


@dataclass(frozen=True)
class Fault:
    """Why a part of a template is refused; `line` is 0 when it concerns the whole part."""

    part: str
    line: int
    problem: Problem


class InvalidTemplate(ValueError):
    def __init__(self, faults: list[Fault]) -> None:
        super().__init__("; ".join(f"{f.part}:{f.line}: {f.problem.msgid}" for f in faults))
        self.faults = faults


_STR_METHODS = frozenset({"upper", "lower", "title", "capitalize", "strip", "startswith"})
_FILTERS = (
    "capitalize",
    "default",
    "d",
    "e",
    "escape",
    "first",
    "join",
    "last",
    "length",
    "count",
    "lower",
    "upper",
    "title",
    "trim",
    "round",
    "sort",
    "truncate",
)


class LimitReached(SecurityError):
    """A template hit one of the caps while rendering; `problem` says which, in words."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.msgid)
        self.problem = problem


TOO_LONG = N_("stopped: the text would grow beyond %(max)d characters")
TOO_MANY_LOOPS = N_("stopped: its loops ran more than %(max)d times in all")
TOO_SLOW = N_("stopped: rendering took longer than %(seconds)s seconds")


class _Budget:
    """What one rendering of one part may still use (see MAX_OUTPUT, MAX_LOOPS,
    MAX_SECONDS); kept in a context variable, so a cached template serves any thread."""

    __slots__ = ("deadline", "loops", "written")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_SECONDS
        self.loops = 0
        self.written = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitReached(Problem(TOO_SLOW, seconds=f"{MAX_SECONDS:g}"))

    def loop(self) -> None:
        self.loops += 1
        if self.loops > MAX_LOOPS:
            raise LimitReached(Problem(TOO_MANY_LOOPS, max=MAX_LOOPS))
        self.tick()

    def write(self, size: int) -> None:
        self.written += size
        if self.written > MAX_OUTPUT:
            raise LimitReached(Problem(TOO_LONG, max=MAX_OUTPUT))
        self.tick()


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()


def _fits(size: int) -> None:
    """Refuse a string or list longer than MAX_OUTPUT before it is made."""
    if size > MAX_OUTPUT:
        raise LimitReached(Problem(TOO_LONG, max=MAX_OUTPUT))
    _tick()


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


class _Codegen(CodeGenerator):
    """Jinja's code generator, with every loop, `~` and piece of output going through the
    sandbox's budget (see _Sandbox.loop_items, joined and written)."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        if node.recursive:  # the inner loop(...) calls would not be counted
            raise TemplateSyntaxError(RECURSIVE, node.lineno)
        # for x in environment.loop_items(<iterable>): each item is counted
        guard = nodes.EnvironmentAttribute("loop_items", lineno=node.iter.lineno)
        node.iter = nodes.Call(guard, [node.iter], [], None, None, lineno=node.iter.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.joined(context.eval_ctx, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.written({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.written(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")


RECURSIVE = "recursive loops are not allowed"


def _bounded(func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose result may not be longer than MAX_OUTPUT."""

    @functools.wraps(func)  # keeps Jinja's pass_eval_context marker
    def bounded(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        _fits(_size(result))
        return result

    return bounded


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    """Jinja's join, measuring the pieces before the string is made."""
    if attribute is not None:
        value = map(make_attrgetter(eval_ctx.environment, attribute), value)
    pieces, size = [], 0
    for item in value:
        size += len(item if isinstance(item, str) else str(item)) + len(d)
        _fits(size)
        pieces.append(item)
    joined: str = do_join(eval_ctx, pieces, d)
    return joined


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, tightened so a template cannot make huge output either.

    No `range`, `lipsum` or string formatting; no repeating strings with `*`; no powers;
    string methods limited to harmless ones; only a short list of filters. While a part
    renders, what it writes, the strings and lists it makes (`~`, `+`, filters), its loop
    iterations and its time are capped (MAX_OUTPUT, MAX_LOOPS, MAX_SECONDS).
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _Codegen

    def __init__(self, html: bool) -> None:
        super().__init__(autoescape=html, undefined=StrictUndefined, trim_blocks=True)
        self.globals.clear()
        self.filters = {name: _bounded(self.filters[name]) for name in _FILTERS}
        self.filters["join"] = _join
        self.tests = {
            k: v for k, v in self.tests.items() if k in {"defined", "none", "number", "string"}
        }

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "+":
            _fits(_size(left) + _size(right))
            return left + right
        if operator == "*" and isinstance(left, int | float) and isinstance(right, int | float):
            return left * right
        raise SecurityError(f"the operator {operator} is not allowed in templates")

    def loop_items(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """The items of a loop, each counted against MAX_LOOPS."""
        budget = _BUDGET.get()
        for item in iterable:
            if budget is not None:
                budget.loop()
            yield item

    def joined(self, eval_ctx: EvalContext, values: tuple[Any, ...]) -> str:
        """`a ~ b`: measured before the string is made."""
        strings = [v if isinstance(v, str) else str(v) for v in values]
        _fits(sum(len(v) for v in strings))
        joined: str = markup_join(strings) if eval_ctx.autoescape else str_join(strings)
        _fits(len(joined))
        return joined

    def written(self, value: str) -> str:
        """A piece of output (anywhere: the result, a macro, a set block), counted."""
        budget = _BUDGET.get()
        if budget is not None:
            budget.write(len(value))
        return value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        # Jinja hands str.format and str.format_map out in a wrapper before it asks
        # is_safe_attribute; a width like {:>999999999} would still fill the memory
        if isinstance(obj, str) and attribute not in _STR_METHODS:
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        if isinstance(obj, str) and isinstance(argument, str):
            return self.unsafe_undefined(obj, argument)
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str):
            return attr in _STR_METHODS
        if isinstance(obj, int | float | dt.date):
            return False
        return super().is_safe_attribute(obj, attr, value)


_HTML = _Sandbox(html=True)
_TEXT = _Sandbox(html=False)


def _env(part: str) -> _Sandbox:
    return _HTML if part == "html" else _TEXT


@lru_cache(maxsize=len(LANGUAGES))
def _defaults(language: str) -> dict[str, Source]:
    raw = resources.files("portal.domain.messaging").joinpath(f"defaults/{language}.toml")
    data = tomllib.loads(raw.read_text(encoding="utf-8"))
    return {
        key: Source(v.get("subject", ""), v.get("html", ""), v.get("text", ""))
        for key, v in data.items()
    }


def default(key: str, language: str) -> Source:
    """The shipped text of `key` in `language`."""
    return _defaults(language)[key]


def current(session: Session, brand_id: int, key: str, language: str) -> Source:
    """The text in use: the newest saved version, else the default."""
    row = latest(session, brand_id, key, language)
    return Source(row.subject, row.body_html, row.body_text) if row else default(key, language)


def _versions(brand_id: int, key: str, language: str) -> Select[MessageTemplate]:
    return (
        select(MessageTemplate)
        .where(
            MessageTemplate.brand_id == brand_id,
            MessageTemplate.key == key,
            MessageTemplate.language == language,
        )
        .order_by(MessageTemplate.version.desc())
    )


def latest(session: Session, brand_id: int, key: str, language: str) -> MessageTemplate | None:
    """The newest saved version, or None while the default is in use."""
    return session.scalars(_versions(brand_id, key, language).limit(1)).first()


def history(session: Session, brand_id: int, key: str, language: str) -> list[MessageTemplate]:
    """Every saved version, newest first."""
    return list(session.scalars(_versions(brand_id, key, language)))


def edited(session: Session, brand_id: int) -> dict[tuple[str, str], int]:
    """(key, language) → the newest version number, for the keys this brand changed."""
    rows = session.execute(
        select(MessageTemplate.key, MessageTemplate.language, func.max(MessageTemplate.version))
        .where(MessageTemplate.brand_id == brand_id)
        .group_by(MessageTemplate.key, MessageTemplate.language)
    )
    return {(key, language): int(version) for key, language, version in rows}


def check(key: str, source: Source, sample: Mapping[str, Mapping[str, Any]]) -> list[Fault]:
    """Every reason to refuse `source`; empty when it may be saved.

    `sample` holds a context per part ("html", "text"; the subject uses "text") to try
    the template with, so errors that show only when rendering are caught too; with
    "busy_html" and "busy_text" (a debtor with many invoices) it is tried with those as
    well, so a text that would hit a cap (MAX_OUTPUT, MAX_LOOPS, MAX_SECONDS) only for a
    large debtor is refused now, not when its reminder is sent.
    """
    spec = SPECS[key]
    faults: list[Fault] = []
    for part in spec.parts:
        text = source.part(part)
        if len(text) > MAX_SOURCE:
            faults.append(
                Fault(part, 0, Problem(N_("longer than %(max)d characters"), max=MAX_SOURCE))
            )
            continue
        try:
            tree = _env(part).parse(text)
        except TemplateSyntaxError as exc:
            faults.append(
                Fault(
                    part,
                    exc.lineno,
                    Problem(N_("syntax error: %(reason)s"), reason=exc.message or ""),
                )
            )
            continue
        faults.extend(_structure(part, tree, spec))
        if part == "subject" and "\n" in text.strip():
            faults.append(Fault(part, 0, Problem(N_("the subject must be one line"))))
        if not any(f.part == part for f in faults):
            name = "html" if part == "html" else "text"
            try:
                for context in (sample[name], sample.get(f"busy_{name}")):
                    if context is not None:
                        _render_part(part, text, context)
            except _RenderFailed as exc:
                faults.append(Fault(part, exc.line, exc.problem))
    return faults


def _structure(part: str, tree: nodes.Template, spec: Spec) -> list[Fault]:
    faults = []
    for node in tree.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
        faults.append(
            Fault(part, node.lineno, Problem(N_("other templates cannot be included here")))
        )
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            faults.append(Fault(part, loop.lineno, Problem(N_("recursive loops are not allowed"))))
    try:
        used = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:  # an unknown filter or test
        return [
            *faults,
            Fault(
                part, exc.lineno, Problem(N_("not allowed: %(reason)s"), reason=exc.message or "")
            ),
        ]
    for name in sorted(used - set(spec.variables)):
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), 0)
        faults.append(Fault(part, line, Problem(N_("unknown variable %(name)s"), name=name)))
    for name in spec.required.get(part, ()):
        if name not in used:
            faults.append(
                Fault(
                    part,
                    0,
                    Problem(N_("the variable %(name)s is required here"), name=name),
                )
            )
    return faults


class _RenderFailed(Exception):
    def __init__(self, line: int, problem: Problem) -> None:
        super().__init__(problem.msgid)
        self.line = line
        self.problem = problem


def _template_line(tb: Any) -> int:
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@lru_cache(maxsize=512)
def _compiled(part: str, text: str) -> Template:
    """Compiling costs more than rendering; the same texts are sent thousands of times."""
    return _env(part).from_string(text)


def _render_part(part: str, text: str, context: Mapping[str, Any]) -> str:
    budget = _BUDGET.set(_Budget())
    try:
        out = _compiled(part, text).render(context)
    except LimitReached as exc:
        raise _RenderFailed(_template_line(sys.exc_info()[2]), exc.problem) from exc
    except SecurityError as exc:
        problem = Problem(N_("not allowed: %(reason)s"), reason=str(exc))
        raise _RenderFailed(_template_line(sys.exc_info()[2]), problem) from exc
    except UndefinedError as exc:
        problem = Problem(N_("fails when rendered: %(reason)s"), reason=str(exc))
        raise _RenderFailed(_template_line(sys.exc_info()[2]), problem) from exc
    except RecursionError as exc:
        raise _RenderFailed(0, Problem(N_("it calls itself without end"))) from exc
    except MemoryError as exc:  # a last resort: the caps above should come first
        raise _RenderFailed(0, Problem(TOO_LONG, max=MAX_OUTPUT)) from exc
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        problem = Problem(N_("fails when rendered: %(reason)s"), reason=str(exc))
        raise _RenderFailed(_template_line(sys.exc_info()[2]), problem) from exc
    finally:
        _BUDGET.reset(budget)
    if len(out) > MAX_OUTPUT:
        raise _RenderFailed(
            0, Problem(N_("the result is longer than %(max)d characters"), max=MAX_OUTPUT)
        )
    return out


def _one_line(text: str) -> str:
    """Line breaks and runs of spaces become one space; no-break spaces stay."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def render(
    source: Source,
    html_context: Mapping[str, Any],
    text_context: Mapping[str, Any],
    parts: tuple[str, ...] = PARTS,
) -> Rendered:
    """Render a checked template's `parts` (the others stay empty); raises InvalidTemplate
    if it fails after all."""
    out = []
    for part in PARTS:
        if part not in parts:
            out.append("")
            continue
        try:
            out.append(
                _render_part(
                    part, source.part(part), html_context if part == "html" else text_context
                )
            )
        except _RenderFailed as exc:
            raise InvalidTemplate([Fault(part, exc.line, exc.problem)]) from exc
    subject, html, text = out
    # the HTML part comes from the autoescaping sandbox: values in it are escaped already
    return Rendered(_one_line(subject), Markup(html), text)  # noqa: S704


def save(
    session: Session,
    brand_id: int,
    key: str,
    language: str,
    source: Source,
    actor: str,
    sample: Mapping[str, Mapping[str, Any]],
) -> MessageTemplate:
    """Check and store `source` as the newest version; raises InvalidTemplate."""
    faults = check(key, source, sample)
    if faults:
        raise InvalidTemplate(faults)
    parts = SPECS[key].parts
    source = Source(*(source.part(p) if p in parts else "" for p in PARTS))
    previous = latest(session, brand_id, key, language)
    row = MessageTemplate(
        brand_id=brand_id,
        key=key,
        language=language,
        version=(previous.version if previous else 0) + 1,
        subject=source.subject.strip(),
        body_html=source.html,
        body_text=source.text,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "admin.template_saved",
        key=key,
        language=language,
        version=row.version,
        brand_id=brand_id,
    )
    return row


def revert(
    session: Session,
    brand_id: int,
    key: str,
    language: str,
    version: int,
    actor: str,
    sample: Mapping[str, Mapping[str, Any]],
) -> MessageTemplate:
    """Save version `version` (0: the default) again as the newest; raises LookupError."""
    if version == 0:
        source = default(key, language)
    else:
        old = session.scalars(
            _versions(brand_id, key, language).where(MessageTemplate.version == version)
        ).first()
        if old is None:
            raise LookupError(version)
        source = Source(old.subject, old.body_html, old.body_text)
    return save(session, brand_id, key, language, source, actor, sample)
