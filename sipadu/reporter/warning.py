"""The warning about identifying details before anything is stored (issue 21 item 3), on
the report form and the mailbox's message form: what the two views share.

A form that validates and whose files arrived is checked (:func:`flags`): its text
fields except the identity field (:func:`sipadu.services.identifying.find_identifying`),
its files' outcomes (identifying fields cleaning could not remove; files stored as
sent) and its files' names (:func:`sipadu.services.identifying.scan_name`). If
anything is found and the reporter did not press "send anyway" (:data:`SEND_ANYWAY`),
nothing is committed: the form comes back (200) with the text, a warning naming each
finding and where, and its files kept (:mod:`sipadu.web.kept_files`: staged, carried
sealed in the page). The page marks itself warned (:data:`WARNED`), so
a language switch of it shows the warning again.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from flask import g, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import Length

from sipadu.reporter.blueprint import runtime
from sipadu.services.attachments import UploadedFile, clean_name, shorten_name
from sipadu.services.identifying import scan_identifying
from sipadu.settings.config import MIB
from sipadu.web import kept_files
from sipadu.web.context import app_config
from sipadu.web.file_notices import (
    Flag,
    file_flags,
    file_notice,
    file_notices,
    more_flags,
    name_flags,
    text_flags,
    unlisted_flag,
)
from sipadu.web.kept_files import Kept
from sipadu.web.reporter_forms import TEXT_LIMIT
from sipadu.web.submissions import FormKind
from sipadu.web.uploads import not_kept, spare

SEND_ANYWAY = "send_anyway"
WARNED = "warned"
_CARRIED = "sipadu_kept_files"  # g: what this page carries
NAME_SHOWN = 60
FLAGS_LISTED = 40  # lines the warning lists at most (the page stays under 100 KB)


@dataclass
class Carried:
    files: list[UploadedFile] = field(default_factory=list)
    token: str = ""
    ticked: frozenset[int] = frozenset()


def resume(purpose: FormKind, *, switch: bool = False) -> Kept:
    """This request's kept files (none for a GET), carried on by every page it renders
    unless :func:`carry` says otherwise. A language switch applies no drop."""
    if request.method != "POST":
        return Kept()
    kept = kept_files.resume(runtime().kept_files_key, purpose.value, apply_drops=not switch)
    carry(purpose, kept.files, kept.ticked)
    return kept


def carry(
    purpose: FormKind, files: Sequence[UploadedFile], ticked: frozenset[int] = frozenset()
) -> None:
    """The files the page rendered by this request carries, sealed."""
    token = kept_files.seal(runtime().kept_files_key, purpose.value, files)
    setattr(g, _CARRIED, Carried(list(files), token, ticked))


def keep(
    purpose: FormKind, kept: Kept, new_files: Sequence[UploadedFile], field: Field
) -> list[UploadedFile]:
    """Nothing is stored, the form comes back: the files its page carries on (returned,
    and :func:`carry`-ied): those kept from before and, while the budget for kept files
    allows (:func:`sipadu.web.uploads.spare`), this request's new ones; new ones that
    could not be kept are named on ``field``, to be chosen again."""
    if spare(new_files):
        files = [*kept.files, *new_files]
    else:
        files = list(kept.files)
        field.errors = [*field.errors, not_kept([f.name for f in new_files])]
    carry(purpose, files)
    return files


def page_files() -> dict[str, object]:
    """For the template: ``kept_token`` and ``kept_list`` (place, name, notice, ticked)."""
    carried: Carried = g.get(_CARRIED) or Carried()
    listed = [
        {
            "index": i,
            "name": shorten_name(clean_name(f.name), NAME_SHOWN),
            "notice": file_notice(f.outcome),
            "ticked": i in carried.ticked,
        }
        for i, f in enumerate(carried.files)
    ]
    return {"kept_token": carried.token, "kept_list": listed}


def kept_notice(kept: Kept) -> str | None:
    """What the page says about kept files that could not be kept, or None."""
    if kept.refused:
        return _(
            "The files you had sent before could not be taken from this page (it was "
            "changed, or it belongs to another browser session). None of them was attached: "
            "choose your files again."
        )
    if kept.lost:
        names = ", ".join(f"“{shorten_name(clean_name(n), NAME_SHOWN)}”" for n in kept.lost)
        return _(
            "These files are no longer kept (an hour passed without activity, or they were "
            "already sent with a report or message) and were not attached: %(names)s. "
            "Choose them again if you still want to send them.",
            names=names,
        )
    return None


def over_limits(files: Sequence[UploadedFile]) -> str | None:
    """Why kept and new files together are too many or too large, or None."""
    config = app_config()
    if len(files) > config.max_files:
        return _(
            "Together with the files kept from before, you sent %(chosen)d files, and one "
            "form can carry at most %(count)d. Drop some of the kept files or choose fewer.",
            chosen=len(files),
            count=config.max_files,
        )
    if sum(f.stored.size for f in files) > config.max_request_bytes:
        return _(
            "Together with the files kept from before, the files are larger than %(mib)d MB, "
            "the most one form can carry. Drop some of the kept files or choose fewer.",
            mib=config.max_request_bytes // MIB,
        )
    return None


def flags(
    texts: Mapping[str, str],
    labels: Mapping[str, str],
    files: Sequence[UploadedFile],
    amount_fields: Collection[str] = (),
) -> list[Flag]:
    """Everything the warning names: text findings (at most
    :data:`~sipadu.services.identifying.LISTED_PER_FIELD` per field, then how many
    more), then files (what they hold, then their names; anchored on their place in
    the kept list: ``kept-file-<i>``; the page carries exactly ``files``); at most
    :data:`FLAGS_LISTED` lines, the last saying how many more. ``amount_fields``: the
    fields that hold amounts of money. Pass ``texts`` within the form's limits
    (:func:`form_texts`)."""
    scan = scan_identifying(texts, amount_fields=amount_fields)
    anchors = [f"kept-file-{i}" for i in range(len(files))]
    said = text_flags(scan.findings, labels)
    said += more_flags(scan.unlisted, labels)
    said += file_flags(files, anchors)
    said += name_flags(files, anchors)
    if len(said) > FLAGS_LISTED:
        more = unlisted_flag(len(said) - FLAGS_LISTED + 1, said[0])
        said = [*said[: FLAGS_LISTED - 1], more]
    return said


def form_texts(form: FlaskForm, names: Iterable[str]) -> dict[str, str]:
    """The text of each named field of ``form``, cut at the field's own length limit
    (its ``Length`` validator's ``max``; without one, ``TEXT_LIMIT``, the longest text
    a form takes): the detector never reads more than the form accepts, also where the
    form is not validated (a language switch: a field may carry up to 500 KB)."""
    texts = {}
    for name in names:
        bound = getattr(form, name)
        limits = [v.max for v in bound.validators if isinstance(v, Length) and v.max >= 0]
        texts[name] = (bound.data or "")[: min(limits, default=TEXT_LIMIT)]
    return texts


def send_anyway() -> bool:
    return request.form.get(SEND_ANYWAY) == "1"


def was_warned() -> bool:
    return request.method == "POST" and request.form.get(WARNED) == "1"


NOTICES = "file_notices"  # the code page's forms carry its file notices in this field


def receipt_notices(files: Sequence[UploadedFile] | None = None) -> dict[str, object]:
    """For the code page: each file's notice (``file_notices``) and the sealed field its
    own forms carry them in (``notices_token``), from ``files`` just stored or, on its
    language switch, from the posted field. The code page shown again to a form sent
    twice has none (its receipt holds the code only)."""
    key = runtime().kept_files_key
    if files is not None:
        token = kept_files.seal_notices(key, files)
        pairs = [(f.name, f.outcome) for f in files]
    else:
        token = request.form.get(NOTICES, "")
        pairs = kept_files.unseal_notices(key, token)
        token = token if pairs else ""
    return {"file_notices": file_notices(pairs), "notices_token": token}
