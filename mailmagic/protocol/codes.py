"""Says what every code a mail server sends means, as data with its RFC reference, plus small lookup
functions that turn a code into one readable sentence:

- SMTP reply codes (RFC 5321 4.2.2/4.2.3 and the extensions that added codes: RFC 4954 AUTH,
  RFC 3207 STARTTLS, RFC 7504 null MX), and the meaning of each reply's first and second digit
  (RFC 5321 4.2.1), which explain_smtp_code falls back on for codes no RFC defines.
- RFC 3463 enhanced status codes (class.subject.detail) with the details registered later in
  the IANA registry (RFC 5248): RFC 4954, 6531, 6710, 7293, 7372, 7505, 8617, 8689.
- POP3 response codes ([IN-USE], [SYS/TEMP]...: RFC 2449 section 8, RFC 3206, RFC 6856).
- EHLO keywords and POP3 CAPA tags, with their parameters interpreted (SIZE as a size, AUTH and
  SASL as a list of mechanisms).
- The commands of both protocols (syntax, meaning, RFC section, required extension and, where it
  is fixed, how many arguments), which the connections use for warnings, the display for HELP
  texts and, for POP3, the lab server for checking the commands it receives (pop3_rules.py).

Everything is read-only (MappingProxyType); nothing here changes at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "CAPA_TAGS",
    "EHLO_KEYWORDS",
    "ENHANCED_CLASSES",
    "ENHANCED_DETAILS",
    "ENHANCED_SUBJECTS",
    "POP3_COMMANDS",
    "POP3_RESP_CODES",
    "REPLY_CATEGORIES",
    "REPLY_CLASSES",
    "SASL_MECHANISMS",
    "SMTP_COMMANDS",
    "SMTP_REPLY_CODES",
    "CommandInfo",
    "Meaning",
    "explain_capa",
    "explain_command",
    "explain_ehlo_keyword",
    "explain_enhanced",
    "explain_resp_code",
    "explain_smtp_code",
    "human_size",
    "usage",
]


@dataclass(frozen=True)
class Meaning:
    """What a code, keyword or tag means, and where that is written."""

    text: str
    ref: str

    def __str__(self) -> str:
        return f"{self.text} ({self.ref})"


@dataclass(frozen=True)
class CommandInfo:
    """One command: how to type it, what it does, where it is defined, what it needs."""

    verb: str
    syntax: str  # optional parts in [brackets]
    meaning: str
    ref: str
    extension: str | None = None  # EHLO keyword / CAPA tag that announces it
    args: tuple[int, int] | None = None  # (min, max) arguments, where that is fixed
    note: str = ""  # e.g. "obsolete"
    rest_of_line: bool = False  # the whole rest of the line is one argument (spaces and all)


def _frozen(**entries: Meaning) -> Mapping[str, Meaning]:
    return MappingProxyType(entries)


def _m(text: str, ref: str) -> Meaning:
    return Meaning(text, ref)


# --- SMTP reply codes (RFC 5321 4.2) -----------------------------------------------------------

_R5321 = "RFC 5321 4.2.2"

SMTP_REPLY_CODES: Mapping[int, Meaning] = MappingProxyType(
    {
        211: _m("System status, or system help reply", _R5321),
        214: _m("Help message, meant for a human reader", _R5321),
        220: _m("Service ready (the greeting; also the go-ahead after STARTTLS)", "RFC 5321 3.1"),
        221: _m("Service closing transmission channel (the answer to QUIT)", "RFC 5321 4.1.1.10"),
        235: _m("Authentication succeeded", "RFC 4954 6"),
        250: _m("Requested mail action okay, completed", _R5321),
        251: _m("User not local; will forward to <forward-path>", "RFC 5321 3.4"),
        252: _m(
            "Cannot VRFY user, but will accept the message and attempt delivery", "RFC 5321 3.5.3"
        ),
        334: _m("Server challenge during AUTH: answer with one base64 line", "RFC 4954 4"),
        354: _m("Start mail input; end with <CRLF>.<CRLF>", "RFC 5321 4.1.1.4"),
        421: _m(
            "Service not available, closing transmission channel (may answer any command)",
            "RFC 5321 3.8",
        ),
        432: _m("A password transition is needed", "RFC 4954 6"),
        450: _m(
            "Mailbox unavailable for now (busy, or temporarily blocked for policy reasons, "
            "e.g. greylisting)",
            _R5321,
        ),
        451: _m("Requested action aborted: local error in processing", _R5321),
        452: _m(
            "Insufficient system storage, or too many recipients in this transaction",
            "RFC 5321 4.5.3.1.10",
        ),
        454: _m(
            "Temporary authentication failure, or TLS not available right now",
            "RFC 4954 6, RFC 3207 4",
        ),
        455: _m("Server unable to accommodate the MAIL/RCPT parameters right now", _R5321),
        500: _m("Syntax error, command unrecognized (or command line too long)", _R5321),
        501: _m("Syntax error in parameters or arguments", _R5321),
        502: _m("Command not implemented", "RFC 5321 4.2.4"),
        503: _m("Bad sequence of commands", "RFC 5321 4.1.4"),
        504: _m("Command parameter not implemented", _R5321),
        521: _m("This host does not accept mail", "RFC 7504 3"),
        530: _m(
            "Authentication required (or: must issue a STARTTLS command first)",
            "RFC 4954 6, RFC 3207 4",
        ),
        534: _m("Authentication mechanism is too weak", "RFC 4954 6"),
        535: _m("Authentication credentials invalid", "RFC 4954 6"),
        538: _m("Encryption required for the requested authentication mechanism", "RFC 4954 6"),
        550: _m(
            "Mailbox unavailable (not found, no access, or refused for policy reasons)", _R5321
        ),
        551: _m("User not local; please try <forward-path>", "RFC 5321 3.4"),
        552: _m("Requested mail action aborted: exceeded storage allocation", _R5321),
        553: _m("Mailbox name not allowed (e.g. bad address syntax)", _R5321),
        554: _m(
            "Transaction failed (as a greeting: no SMTP service here; send QUIT)", "RFC 5321 3.1"
        ),
        555: _m("MAIL FROM/RCPT TO parameters not recognized or not implemented", _R5321),
        556: _m("The recipient's domain does not accept mail", "RFC 7504 3"),
    }
)

REPLY_CLASSES: Mapping[int, Meaning] = MappingProxyType(
    {
        2: _m("positive completion: the action was done", "RFC 5321 4.2.1"),
        3: _m("positive intermediate: go on, the server waits for more", "RFC 5321 4.2.1"),
        4: _m("transient failure: not done now, trying again later may work", "RFC 5321 4.2.1"),
        5: _m("permanent failure: not done, do not repeat it unchanged", "RFC 5321 4.2.1"),
    }
)

REPLY_CATEGORIES: Mapping[int, Meaning] = MappingProxyType(
    {
        0: _m("syntax: a command was malformed, unknown or superfluous", "RFC 5321 4.2.1"),
        1: _m("information: status or help", "RFC 5321 4.2.1"),
        2: _m("connections: about the transmission channel", "RFC 5321 4.2.1"),
        3: _m("unspecified", "RFC 5321 4.2.1"),
        4: _m("unspecified", "RFC 5321 4.2.1"),
        5: _m("mail system: the state of the receiver's mail system", "RFC 5321 4.2.1"),
    }
)


def explain_smtp_code(code: int) -> str:
    """One sentence: what `code` means, from its entry or, if unknown, from its digits."""
    known = SMTP_REPLY_CODES.get(code)
    if known is not None:
        return f"{code} {known.text} ({known.ref})."
    klass = REPLY_CLASSES.get(code // 100)
    category = REPLY_CATEGORIES.get(code // 10 % 10)
    if klass is None:
        return f"{code} is not an SMTP reply code: the first digit must be 2 to 5 (RFC 5321 4.2)."
    about = f", {category.text}" if category else ""
    return f"{code} is not defined by the RFCs; by its digits: {klass.text}{about} ({klass.ref})."


# --- Enhanced status codes (RFC 3463) -----------------------------------------------------------

ENHANCED_CLASSES: Mapping[int, Meaning] = MappingProxyType(
    {
        2: _m("success", "RFC 3463 2"),
        4: _m("persistent transient failure: may succeed if sent again later", "RFC 3463 2"),
        5: _m("permanent failure: will not succeed without a change", "RFC 3463 2"),
    }
)

ENHANCED_SUBJECTS: Mapping[int, Meaning] = MappingProxyType(
    {
        0: _m("other or undefined status", "RFC 3463 3.1"),
        1: _m("addressing status (originator or destination address)", "RFC 3463 3.2"),
        2: _m("mailbox status (the destination mailbox)", "RFC 3463 3.3"),
        3: _m("mail system status (the destination system)", "RFC 3463 3.4"),
        4: _m("network and routing status", "RFC 3463 3.5"),
        5: _m("mail delivery protocol status (the SMTP dialogue itself)", "RFC 3463 3.6"),
        6: _m("message content or media status", "RFC 3463 3.7"),
        7: _m("security or policy status", "RFC 3463 3.8"),
    }
)


def _details(section: str, subject: int, *texts: str) -> dict[tuple[int, int], Meaning]:
    """RFC 3463 details numbered from 0 in order, all from one section."""
    return {(subject, n): _m(text, f"RFC 3463 {section}") for n, text in enumerate(texts)}


ENHANCED_DETAILS: Mapping[tuple[int, int], Meaning] = MappingProxyType(
    {
        **_details("3.1", 0, "other undefined status"),
        **_details(
            "3.2",
            1,
            "other address status",
            "bad destination mailbox address: no such mailbox there",
            "bad destination system address: no such system, or it takes no mail",
            "bad destination mailbox address syntax",
            "destination mailbox address ambiguous",
            "destination address valid",
            "destination mailbox has moved, no forwarding address",
            "bad sender's mailbox address syntax",
            "bad sender's system address",
        ),
        (1, 9): _m("message relayed to non-compliant mailer", "RFC 3886"),
        (1, 10): _m("recipient address has a null MX: its domain takes no mail", "RFC 7505"),
        **_details(
            "3.3",
            2,
            "other or undefined mailbox status",
            "mailbox disabled, not accepting messages",
            "mailbox full",
            "message length exceeds administrative limit",
            "mailing list expansion problem",
        ),
        **_details(
            "3.4",
            3,
            "other or undefined mail system status",
            "mail system full",
            "system not accepting network messages",
            "system not capable of selected features",
            "message too big for system",
            "system incorrectly configured",
        ),
        (3, 6): _m("requested priority was changed", "RFC 6710"),
        **_details(
            "3.5",
            4,
            "other or undefined network or routing status",
            "no answer from host",
            "bad connection",
            "directory server failure (e.g. DNS)",
            "unable to route",
            "mail system congestion",
            "routing loop detected",
            "delivery time expired",
        ),
        **_details(
            "3.6",
            5,
            "other or undefined protocol status",
            "invalid command",
            "syntax error",
            "too many recipients",
            "invalid command arguments",
            "wrong protocol version",
        ),
        (5, 6): _m("authentication exchange line is too long", "RFC 4954 4"),
        **_details(
            "3.7",
            6,
            "other or undefined media error",
            "media not supported",
            "conversion required and prohibited",
            "conversion required but not supported",
            "conversion with loss performed",
            "conversion failed",
        ),
        (6, 6): _m("message content not available", "RFC 4468"),
        (6, 7): _m("non-ASCII addresses not permitted for that sender/recipient", "RFC 6531"),
        (6, 8): _m("UTF-8 string reply is required, but not permitted by the client", "RFC 6531"),
        (6, 9): _m("UTF-8 header message cannot be transferred to a recipient", "RFC 6531"),
        **_details(
            "3.8",
            7,
            "other or undefined security status (RFC 4954: authentication required)",
            "delivery not authorized, message refused (e.g. relaying denied)",
            "mailing list expansion prohibited",
            "security conversion required but not possible",
            "security features not supported",
            "cryptographic failure",
            "cryptographic algorithm not supported",
            "message integrity failure",
        ),
        (7, 8): _m("authentication credentials invalid", "RFC 4954 6"),
        (7, 9): _m("authentication mechanism is too weak", "RFC 4954 6"),
        (7, 10): _m("encryption needed", "RFC 5248"),
        (7, 11): _m("encryption required for requested authentication mechanism", "RFC 4954 6"),
        (7, 12): _m("a password transition is needed", "RFC 4954 6"),
        (7, 13): _m("user account disabled", "RFC 5248"),
        (7, 14): _m("trust relationship required", "RFC 5248"),
        (7, 15): _m("priority level is too low", "RFC 6710"),
        (7, 16): _m("message is too big for the specified priority", "RFC 6710"),
        (7, 17): _m("mailbox owner has changed", "RFC 7293"),
        (7, 18): _m("domain owner has changed", "RFC 7293"),
        (7, 19): _m("RRVS test cannot be completed", "RFC 7293"),
        (7, 20): _m("no passing DKIM signature found", "RFC 7372"),
        (7, 21): _m("no acceptable DKIM signature found", "RFC 7372"),
        (7, 22): _m("no valid author-matched DKIM signature found", "RFC 7372"),
        (7, 23): _m("SPF validation failed", "RFC 7372"),
        (7, 24): _m("SPF validation error", "RFC 7372"),
        (7, 25): _m("reverse DNS validation failed", "RFC 7372"),
        (7, 26): _m("multiple authentication checks failed", "RFC 7372"),
        (7, 27): _m("sender address has a null MX: its domain sends no mail", "RFC 7505"),
        (7, 29): _m("ARC validation failure", "RFC 8617"),
        (7, 30): _m("REQUIRETLS support required", "RFC 8689"),
    }
)


def explain_enhanced(klass: int, subject: int, detail: int) -> list[str]:
    """Three sentences: the class, the subject and the detail of `klass.subject.detail`."""
    code = f"{klass}.{subject}.{detail}"
    kind = ENHANCED_CLASSES.get(klass)
    about = ENHANCED_SUBJECTS.get(subject)
    exact = ENHANCED_DETAILS.get((subject, detail))
    return [
        f"{klass}.x.x: {kind}" if kind else f"{klass}.x.x: not a class RFC 3463 defines (2, 4, 5)",
        f"x.{subject}.x: {about}" if about else f"x.{subject}.x: no subject registered (RFC 5248)",
        _detail(klass, subject, detail, exact)
        if exact
        else f"{code}: no detail registered (RFC 5248)",
    ]


def _detail(klass: int, subject: int, detail: int, exact: Meaning) -> str:
    # RFC 3463 words the details as problems; in a success (2.x.x) they only say what the
    # reply is about (2.6.0 is "message accepted", about content, not a media error).
    if klass == 2:
        return f"x.{subject}.{detail}: this success is about: {exact}"
    return f"x.{subject}.{detail}: {exact}"


# --- POP3 response codes (RFC 2449 section 8) ----------------------------------------------------

POP3_RESP_CODES: Mapping[str, Meaning] = _frozen(
    **{
        "IN-USE": _m(
            "the maildrop is locked by another session (another client is logged in); "
            "try again once it has quit",
            "RFC 2449 8.1.2",
        ),
        "LOGIN-DELAY": _m(
            "you logged in again too soon; wait the number of seconds CAPA's LOGIN-DELAY gives",
            "RFC 2449 8.1.1",
        ),
        "SYS/TEMP": _m(
            "a temporary system problem, not your credentials; try again later", "RFC 3206 4"
        ),
        "SYS/PERM": _m(
            "a permanent system problem, not your credentials; contact the administrator",
            "RFC 3206 4",
        ),
        "SYS": _m("a system problem, not your credentials", "RFC 3206 4"),
        "AUTH": _m(
            "the credentials are wrong (or the account may not log in): check name and password",
            "RFC 3206 5",
        ),
        "UTF8": _m(
            "the message cannot be given without UTF-8 support: send UTF8 first", "RFC 6856"
        ),
    }
)


def explain_resp_code(code: str) -> str:
    """One sentence on a POP3 response code such as "IN-USE" or "SYS/TEMP"."""
    upper = code.upper()
    known = POP3_RESP_CODES.get(upper) or POP3_RESP_CODES.get(upper.split("/")[0])
    if known is None:
        return f"[{code}]: a response code no RFC defines; read the text that follows it."
    return f"[{code}]: {known.text} ({known.ref})."


# --- SASL mechanisms ----------------------------------------------------------------------------

SASL_MECHANISMS: Mapping[str, Meaning] = _frozen(
    **{
        "PLAIN": _m(
            "name and password in one base64 line (readable by anyone on the path: use it "
            "over TLS; servers usually offer it only after STARTTLS)",
            "RFC 4616",
        ),
        "LOGIN": _m(
            "name, then password, each base64 on request; not standardized, widely deployed",
            "draft-murchison-sasl-login",
        ),
        "CRAM-MD5": _m("challenge-response with an HMAC-MD5 of the password", "RFC 2195"),
        "DIGEST-MD5": _m("digest challenge-response; historic", "RFC 6331"),
        "SCRAM-SHA-1": _m("salted challenge-response, no password sent", "RFC 5802"),
        "SCRAM-SHA-256": _m("salted challenge-response, no password sent", "RFC 7677"),
        "GSSAPI": _m("Kerberos V5 through GSS-API", "RFC 4752"),
        "NTLM": _m("Microsoft NTLM challenge-response", "Microsoft [MS-SMTPNTLM]"),
        "XOAUTH2": _m("an OAuth 2.0 bearer token (Google, Microsoft)", "Google XOAUTH2"),
        "OAUTHBEARER": _m("an OAuth 2.0 bearer token", "RFC 7628"),
        "EXTERNAL": _m("identity from outside SASL, e.g. a TLS client certificate", "RFC 4422"),
        "ANONYMOUS": _m("no credentials", "RFC 4505"),
    }
)


def _mechanisms(words: list[str]) -> str:
    """The SASL mechanisms in `words`, each with what it is."""
    if not words:
        return "no mechanisms listed"
    named = [
        f"{w} ({SASL_MECHANISMS[w.upper()].text})" if w.upper() in SASL_MECHANISMS else w
        for w in words
    ]
    return "mechanisms offered: " + ", ".join(named)


def human_size(octets: int) -> str:
    """10485760 -> "10 MiB"; 1500 -> "1.5 KiB"; 12 -> "12 octets"."""
    size = float(octets)
    for unit in ("octets", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            text = f"{size:.1f}".removesuffix(".0")
            return f"{text} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# --- EHLO keywords ------------------------------------------------------------------------------

EHLO_KEYWORDS: Mapping[str, Meaning] = _frozen(
    **{
        "PIPELINING": _m("you may send several commands before reading their replies", "RFC 2920"),
        "SIZE": _m("the largest message accepted; MAIL FROM may declare SIZE=n", "RFC 1870"),
        "STARTTLS": _m("STARTTLS switches this connection to TLS; EHLO again after", "RFC 3207"),
        "AUTH": _m("AUTH logs in with SASL", "RFC 4954"),
        "8BITMIME": _m("8-bit message text accepted (MAIL FROM ... BODY=8BITMIME)", "RFC 6152"),
        "SMTPUTF8": _m("UTF-8 in addresses and headers (MAIL FROM ... SMTPUTF8)", "RFC 6531"),
        "CHUNKING": _m("BDAT sends the message in counted chunks instead of DATA", "RFC 3030"),
        "BINARYMIME": _m("binary message bodies (BODY=BINARYMIME, with BDAT)", "RFC 3030"),
        "DSN": _m(
            "delivery status notifications: NOTIFY= and ORCPT= on RCPT, RET= and ENVID= on MAIL",
            "RFC 3461",
        ),
        "ENHANCEDSTATUSCODES": _m("replies carry enhanced status codes such as 2.1.5", "RFC 2034"),
        "ETRN": _m("ETRN asks the server to flush its queue for a domain", "RFC 1985"),
        "DELIVERBY": _m("MAIL FROM ... BY=seconds;R|N sets a delivery deadline", "RFC 2852"),
        "HELP": _m("HELP answers with help text", "RFC 5321 4.1.1.8"),
        "VRFY": _m("VRFY checks an address", "RFC 5321 4.1.1.6"),
        "EXPN": _m("EXPN expands a mailing list", "RFC 5321 4.1.1.7"),
        "REQUIRETLS": _m("MAIL FROM ... REQUIRETLS demands TLS on every hop", "RFC 8689"),
        "MT-PRIORITY": _m("MAIL FROM ... MT-PRIORITY=n sets a message priority", "RFC 6710"),
        "FUTURERELEASE": _m("hold a message for release later (HOLDFOR=, HOLDUNTIL=)", "RFC 4865"),
        "LIMITS": _m("the server's limits, such as RCPTMAX and MAILMAX", "RFC 9422"),
        "NO-SOLICITING": _m("the server refuses solicitations of these kinds", "RFC 3865"),
        "ATRN": _m("authenticated TURN: on-demand relay for dial-up sites", "RFC 2645"),
        "TURN": _m(
            "TURN swaps the roles: the server sends you the mail it holds for you (unsafe "
            "without authentication; dropped from SMTP by RFC 2821, see ATRN)",
            "RFC 821 4.1.1",
        ),
        "BURL": _m("BURL builds a message from IMAP URLs", "RFC 4468"),
        "CHECKPOINT": _m("restart an interrupted transfer", "RFC 1845"),
        "CONNEG": _m("content negotiation for fax-like messages", "RFC 4141"),
        "MTRK": _m("message tracking (MTRK= on MAIL)", "RFC 3885"),
        "RRVS": _m("require recipient valid since a date (RRVS= on RCPT)", "RFC 7293"),
        "SUBMITTER": _m("the responsible submitter (SUBMITTER= on MAIL)", "RFC 4405"),
        "VERB": _m("verbose mode: sendmail shows its delivery dialogue", "sendmail"),
        "ONEX": _m("one message per connection", "sendmail"),
        "XCLIENT": _m(
            "a trusted proxy may set the client name and address the server logs",
            "Postfix XCLIENT_README",
        ),
        "XFORWARD": _m(
            "a trusted filter passes on the original client's attributes",
            "Postfix XFORWARD_README",
        ),
        "X-EXPS": _m(
            "Exchange server-to-server authentication (followed by GSSAPI, NTLM)",
            "Microsoft Exchange SMTP extensions",
        ),
        "X-LINK2STATE": _m(
            "Exchange routing link-state updates between Exchange servers",
            "Microsoft Exchange SMTP extensions",
        ),
        "XEXCH50": _m(
            "Exchange-to-Exchange transfer of message properties (XEXCH50 command)",
            "Microsoft Exchange SMTP extensions",
        ),
    }
)


def _keyword_params(keyword: str, params: list[str]) -> str:
    """What the parameters after an EHLO keyword say, or "" when there are none to read."""
    if keyword == "SIZE" and params and params[0].isdigit():
        limit = int(params[0])
        return "no fixed limit announced" if limit == 0 else f"up to {human_size(limit)}"
    if keyword in ("AUTH", "X-EXPS"):
        return _mechanisms(params)
    if keyword == "DELIVERBY" and params and params[0].isdigit():
        return f"the deadline must be at least {params[0]} seconds away"
    return f"parameters: {' '.join(params)}" if params else ""


def explain_ehlo_keyword(line: str) -> str:
    """One sentence on an EHLO reply line such as "SIZE 10485760" or "AUTH LOGIN PLAIN"."""
    words = line.split()
    if not words:
        return "an empty EHLO line: no extension."
    keyword, params = words[0].upper(), words[1:]
    for name in ("AUTH", "X-EXPS"):
        if keyword.startswith(f"{name}="):
            mechanisms = _mechanisms([keyword[len(name) + 1 :], *params])
            return (
                f"{keyword}: {name} in the pre-RFC 2554 form some old clients need; {mechanisms}."
            )
    if keyword == "OK" and not params:
        return "OK: no extension: Windows SMTP servers (IIS, Exchange) end their EHLO list so."
    known = EHLO_KEYWORDS.get(keyword)
    extra = _keyword_params(keyword, params)
    if known is None:
        head = f"{keyword}: not a registered SMTP extension (private or vendor keyword)"
        return f"{head}; {extra}." if extra else f"{head}."
    return f"{keyword}: {known.text}" + (f"; {extra}" if extra else "") + f" ({known.ref})."


# --- POP3 CAPA tags (RFC 2449 section 6) ---------------------------------------------------------

CAPA_TAGS: Mapping[str, Meaning] = _frozen(
    **{
        "TOP": _m("TOP msg n shows the headers and the first n body lines", "RFC 2449 6.1"),
        "USER": _m("USER and PASS log in with a plain-text password", "RFC 2449 6.2"),
        "SASL": _m("AUTH logs in with SASL", "RFC 2449 6.3, RFC 5034"),
        "RESP-CODES": _m("-ERR replies may carry [CODES] in brackets", "RFC 2449 6.4"),
        "LOGIN-DELAY": _m("the minimum number of seconds between logins", "RFC 2449 6.5"),
        "PIPELINING": _m("you may send several commands before reading replies", "RFC 2449 6.6"),
        "EXPIRE": _m("days the server keeps messages (NEVER: kept until deleted)", "RFC 2449 6.7"),
        "UIDL": _m("UIDL gives each message a unique id stable across sessions", "RFC 2449 6.8"),
        "IMPLEMENTATION": _m("the server software, for information only", "RFC 2449 6.9"),
        "CAPA": _m(
            "the server lists CAPA itself (not required: CAPA always works where RFC 2449 is "
            "supported; Dovecot does this)",
            "RFC 2449 5",
        ),
        "STLS": _m("STLS switches this connection to TLS; CAPA again after", "RFC 2595 4"),
        "AUTH-RESP-CODE": _m("failed logins carry [AUTH] or [SYS/...] codes", "RFC 3206 6"),
        "UTF8": _m("UTF8 switches the session to UTF-8 (USER: also user names)", "RFC 6856"),
        "LANG": _m("LANG chooses the language of the server's texts", "RFC 6856"),
    }
)


def _capa_params(tag: str, params: list[str]) -> str:
    if tag == "SASL":
        return _mechanisms(params)
    if tag == "LOGIN-DELAY" and params and params[0].isdigit():
        per_user = " (may differ per user after login)" if "USER" in params[1:] else ""
        return f"wait {params[0]} seconds between logins{per_user}"
    if tag == "EXPIRE" and params:
        return "messages are kept" + (
            " until deleted" if params[0].upper() == "NEVER" else f" {params[0]} days"
        )
    return f"parameters: {' '.join(params)}" if params else ""


def explain_capa(line: str) -> str:
    """One sentence on a CAPA reply line such as "SASL PLAIN" or "LOGIN-DELAY 900"."""
    words = line.split()
    if not words:
        return "an empty CAPA line: no capability."
    tag, params = words[0].upper(), words[1:]
    known = CAPA_TAGS.get(tag)
    extra = _capa_params(tag, params)
    if known is None:
        private = " (X- tags are private ones)" if tag.startswith("X-") else ""
        head = f"{tag}: not a registered POP3 capability{private}"
        return f"{head}; {extra}." if extra else f"{head}."
    return f"{tag}: {known.text}" + (f"; {extra}" if extra else "") + f" ({known.ref})."


# --- Commands -----------------------------------------------------------------------------------


def _commands(*infos: CommandInfo) -> Mapping[str, CommandInfo]:
    return MappingProxyType({info.verb: info for info in infos})


_C = CommandInfo

SMTP_COMMANDS: Mapping[str, CommandInfo] = _commands(
    _C("EHLO", "EHLO <your-host-name>", "say who you are; lists extensions", "RFC 5321 4.1.1.1"),
    _C("HELO", "HELO <your-host-name>", "say who you are (no extensions)", "RFC 5321 4.1.1.1"),
    _C(
        "MAIL",
        "MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME]",
        "start a mail transaction with the return address",
        "RFC 5321 4.1.1.2",
    ),
    _C("RCPT", "RCPT TO:<address>", "add a recipient (repeat for more)", "RFC 5321 4.1.1.3"),
    _C("DATA", "DATA", "send the message text, ended by a lone '.' line", "RFC 5321 4.1.1.4"),
    _C("RSET", "RSET", "abort the mail transaction", "RFC 5321 4.1.1.5"),
    _C("VRFY", "VRFY <name-or-address>", "ask whether an address exists", "RFC 5321 4.1.1.6"),
    _C("EXPN", "EXPN <list>", "ask for the members of a mailing list", "RFC 5321 4.1.1.7"),
    _C("HELP", "HELP [command]", "ask for help text", "RFC 5321 4.1.1.8"),
    _C("NOOP", "NOOP", "do nothing; the server answers 250", "RFC 5321 4.1.1.9"),
    _C("QUIT", "QUIT", "end the session; the server answers 221 and closes", "RFC 5321 4.1.1.10"),
    _C("STARTTLS", "STARTTLS", "switch the connection to TLS", "RFC 3207 4", "STARTTLS"),
    _C(
        "AUTH",
        "AUTH <mechanism> [initial-response]",
        "log in with a SASL mechanism",
        "RFC 4954 4",
        "AUTH",
    ),
    _C("BDAT", "BDAT <octets> [LAST]", "send a chunk of the message", "RFC 3030 2", "CHUNKING"),
    _C("ETRN", "ETRN <domain>", "ask the server to flush its queue", "RFC 1985", "ETRN"),
    _C(
        "TURN",
        "TURN",
        "swap the client and server roles",
        "RFC 821",
        note="obsolete and insecure: RFC 5321 dropped it, servers answer 502",
    ),
)

POP3_COMMANDS: Mapping[str, CommandInfo] = _commands(
    _C("USER", "USER <name>", "give the user name (then PASS)", "RFC 1939 7", "USER", (1, 1)),
    _C(  # a password may hold spaces (RFC 1939 section 7)
        "PASS",
        "PASS <password>",
        "give the password, right after USER",
        "RFC 1939 7",
        "USER",
        (1, 1),
        rest_of_line=True,
    ),
    _C(
        "APOP",
        "APOP <name> <digest>",
        "log in with the MD5 of the greeting's timestamp and the secret",
        "RFC 1939 7",
        args=(2, 2),
    ),
    _C(
        "AUTH",
        "AUTH [mechanism [initial-response]]",
        "log in with SASL",
        "RFC 5034 4",
        "SASL",
        (0, 2),
    ),
    _C("STLS", "STLS", "switch the connection to TLS", "RFC 2595 4", "STLS", (0, 0)),
    _C("CAPA", "CAPA", "list the server's capabilities", "RFC 2449 5", args=(0, 0)),
    _C("STAT", "STAT", "count the messages and their total size", "RFC 1939 5", args=(0, 0)),
    _C("LIST", "LIST [msg]", "list message numbers and sizes", "RFC 1939 5", args=(0, 1)),
    _C("RETR", "RETR <msg>", "retrieve a whole message", "RFC 1939 5", args=(1, 1)),
    _C("DELE", "DELE <msg>", "mark a message deleted (done at QUIT)", "RFC 1939 5", args=(1, 1)),
    _C("NOOP", "NOOP", "do nothing; the server answers +OK", "RFC 1939 5", args=(0, 0)),
    _C("RSET", "RSET", "unmark every message marked deleted", "RFC 1939 5", args=(0, 0)),
    _C(
        "TOP",
        "TOP <msg> <lines>",
        "headers and first lines of a message",
        "RFC 1939 7",
        "TOP",
        (2, 2),
    ),
    _C("UIDL", "UIDL [msg]", "list unique message ids", "RFC 1939 7", "UIDL", (0, 1)),
    _C("UTF8", "UTF8", "switch the session to UTF-8", "RFC 6856", "UTF8", (0, 0)),
    _C("LANG", "LANG [language]", "choose or list languages", "RFC 6856", "LANG", (0, 1)),
    _C(
        "QUIT",
        "QUIT",
        "end the session; in TRANSACTION, deleted messages are removed",
        "RFC 1939 6",
        args=(0, 0),
    ),
)


def usage(commands: Mapping[str, CommandInfo], verb: str) -> str:
    """How to type `verb`, without its optional parts: "MAIL FROM:<address>"."""
    info = commands.get(verb)
    return info.syntax.partition(" [")[0] if info else verb


def explain_command(commands: Mapping[str, CommandInfo], verb: str) -> str:
    """One line for HELP displays: "RCPT TO:<address>: add a recipient ... (RFC 5321 4.1.1.3)"."""
    info = commands.get(verb.upper())
    if info is None:
        return f"{verb.upper()}: not a command the RFCs define."
    note = f"; {info.note}" if info.note else ""
    return f"{info.syntax}: {info.meaning}{note} ({info.ref})."
