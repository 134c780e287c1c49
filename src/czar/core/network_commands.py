"""The default verdict on programs that reach other hosts: downloading is allowed (into the
checkout), sending data (curl -d/-F/-T, a POST, wget --post-data) and copying to another host
(rsync host:..., scp) need a person; a word only run time can tell is not trusted.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from czar.core import options as opts
from czar.core.options import names
from czar.core.shell import Word
from czar.core.verdicts import allow, ask

if TYPE_CHECKING:
    from czar.core.commands import Cwds, Handler, Judge

CURL_SENDS = names(
    "-d --data --data-ascii --data-binary --data-raw --data-urlencode -F --form --form-string -T --upload-file "
    "--json -K --config"
)
CURL = opts.Spec.of(
    "-s --silent -S --show-error -L --location -f --fail --fail-with-body -k --insecure -v --verbose -i --include "
    "-I --head -O --remote-name -J --remote-header-name -G --get -N --no-buffer -# --progress-bar -q --compressed "
    "-4 -6 --http1.1 --http2 -Z --parallel --create-dirs -R --remote-time -g --globoff -l --list-only -n --netrc "
    "--no-progress-meter --retry-all-errors -j --junk-session-cookies -a --append -B --use-ascii -0 --http1.0 "
    "--ssl --ssl-reqd --tlsv1.2 --tlsv1.3 --fail-early --remote-name-all -p --proxytunnel --raw",
    "-d --data --data-ascii --data-binary --data-raw --data-urlencode -F --form --form-string -T --upload-file "
    "--json -K --config -X --request -o --output -c --cookie-jar -D --dump-header --trace --trace-ascii --stderr "
    "--output-dir -H --header -A --user-agent -e --referer -b --cookie -u --user -w --write-out -m --max-time "
    "--connect-timeout --retry --retry-delay --retry-max-time -x --proxy -r --range -C --continue-at -E --cert "
    "--key --cacert --capath --url -z --time-cond --limit-rate -Y --speed-limit -y --speed-time --resolve "
    "--connect-to --interface --max-filesize --max-redirs --proto --proto-redir --oauth2-bearer --etag-save "
    "--etag-compare --hsts --alt-svc --variable --expand-url",
)
CURL_WRITES = tuple(
    names(
        "-o --output -c --cookie-jar -D --dump-header --trace --trace-ascii --stderr --output-dir --etag-save "
        "--hsts --alt-svc"
    )
)
WGET = opts.Spec.of(
    "-q --quiet -v --verbose -nv --no-verbose -c --continue -N --timestamping -r --recursive -np --no-parent "
    "-k --convert-links -p --page-requisites -m --mirror -nc --no-clobber -x --force-directories "
    "-nd --no-directories -S --server-response --spider --no-check-certificate -4 -6 --show-progress -b --background",
    "-O --output-document -o --output-file -a --append-output -P --directory-prefix -i --input-file "
    "-t --tries -T --timeout -U --user-agent --header -l --level -A --accept -R --reject -w --wait "
    "--post-data --post-file --body-data --body-file --method -e --execute --user --password --limit-rate",
)


def _download(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    dynamic = [a.source for a in args if a.value is None]
    if dynamic:
        j.add(line, ask(f"czar cannot tell what {name} sends ({dynamic[0]})"))
        return
    parsed = j.options(line, name, args, CURL if name == "curl" else WGET)
    if parsed is None:
        return
    if name == "curl":
        method = [m.value.upper() for m in parsed.values("-X", "--request") if m.value]
        if any(n in CURL_SENDS for n, _ in parsed.options) or any(m not in ("GET", "HEAD") for m in method):
            j.add(line, ask("curl sending data needs a person"))
            return
        written = parsed.values(*CURL_WRITES)
    else:
        sends = ("--post-data", "--post-file", "--body-data", "--body-file", "-e", "--execute")
        method = [m.value.upper() for m in parsed.values("--method") if m.value]
        if parsed.has(*sends) or any(m not in ("GET", "HEAD") for m in method):
            j.add(line, ask("wget sending data needs a person"))
            return
        written = parsed.values("-O", "--output-document", "-o", "--output-file", "-a", "--append-output")
        written += parsed.values("-P", "--directory-prefix")
    if j.writes(line, written, cwds, name):
        j.add(line, allow("downloading is allowed"))


RSYNC = opts.Spec.of(
    "-a --archive -r --recursive -v --verbose -q --quiet -z --compress -h --human-readable -P --progress "
    "--partial -n --dry-run -u --update -l --links -L --copy-links -p --perms -t --times -g --group -o --owner "
    "-D --devices --specials -c --checksum -H --hard-links -x --one-file-system --delete --delete-after "
    "--delete-before --delete-during --delete-excluded -R --relative --stats -i --itemize-changes --mkpath "
    "-W --whole-file --inplace --append --existing --ignore-existing --remove-source-files -C --cvs-exclude",
    "--exclude --include --exclude-from --include-from --files-from -f --filter --log-file -T --temp-dir "
    "--partial-dir --backup-dir --link-dest --compare-dest --copy-dest -B --block-size --max-size --min-size "
    "--timeout --chmod --out-format --suffix -e --rsh --rsync-path --port --password-file --bwlimit -M "
    "--remote-option",
)
_REMOTE = re.compile(r"^(rsync://|[^/]*::|[^/:]+:)")


def _rsync(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    parsed = j.options(line, name, args, RSYNC)
    if parsed is None:
        return
    if any(a.value is None or _REMOTE.match(a.value) for a in parsed.operands) or parsed.has("-e", "--rsh"):
        j.add(line, ask("copying to or from another host needs a person"))
        return
    written = parsed.operands[-1:] + parsed.values("--log-file", "--backup-dir", "-T", "--temp-dir", "--partial-dir")
    if parsed.has("--remove-source-files"):
        written += parsed.operands[:-1]
    if j.writes(line, written, cwds, name):
        j.add(line, allow(f"{name} inside the task's checkout"))


HANDLERS: dict[str, Handler] = {"curl": _download, "wget": _download, "rsync": _rsync}
