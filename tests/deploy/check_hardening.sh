#!/usr/bin/env bash
# Checks that a storage_api binary carries the hardening the build asks for, by reading the ELF file:
# a static-pie (type DYN with DT_FLAGS_1 PIE, no PT_INTERP, no DT_NEEDED), full RELRO (PT_GNU_RELRO and
# BIND_NOW), stack canaries (the program's own functions call __stack_chk_fail), FORTIFY (__*_chk
# functions linked in), control-flow protection (see below), that it starts, and the stripped size.
#
# Usage: tests/deploy/check_hardening.sh PATH_TO_storage_api_OR_BUILD_DIR   (or STORAGE_API_BIN=...)
# With symbols, everything is checked on it and the structure and size again on a copy stripped as the
# Dockerfile strips (strip --strip-all). A stripped binary gets the structure and size checks only: the
# canary, FORTIFY and landing-pad checks need symbols, so it says they were skipped.
# MAX_STRIPPED_BYTES (default 1.75 MiB) is the stripped-size budget. Needs readelf, objdump and strip
# (binutils); also runs Debian's hardening-check (devscripts) when it is installed.
#
# CET: the .note.gnu.property IBT and SHSTK markings survive a link only if every input object has them.
# Debian 12's glibc static objects (rcrt1.o, libc.a) carry none, so ld drops the marking from any static
# glibc binary. When the toolchain's rcrt1.o lacks them, this script checks for endbr64 at the entry of
# every global function of the program instead (what -fcf-protection emits); it requires the marking
# once the toolchain can produce it.
# shellcheck disable=SC2317  # functions run through check
set -euo pipefail
export CHECK_NAME=check_hardening
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools readelf objdump strip awk
resolve_binary "${1:-}"
max_stripped=${MAX_STRIPPED_BYTES:-$((7 * 1024 * 1024 / 4))}

work=$(mktemp -d "${TMPDIR:-/tmp}/check_hardening.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The program's own code: main and the functions of its namespaces (mangled _ZN / _ZNK prefixes).
readonly program_functions='^(main|_ZNK?(3app|4base|4http|7metrics|3net|5store)[0-9_A-Za-z.]*)$'

elf_type() { readelf -hW "$1" | awk -F': *' '$1 ~ /^ *Type$/ { print $2 }'; }
has_segment() { readelf -lW "$1" | awk -v t="$2" '$1 == t { found = 1 } END { exit !found }'; }
# The flags of one dynamic entry (FLAGS, FLAGS_1, NEEDED...), space-separated, with spaces around.
dynamic_entry() { readelf -dW "$1" 2>/dev/null | awk -v t="($2)" '$2 == t { $1 = ""; $2 = ""; print $0 " " }'; }
has_symbols() { readelf -SW "$1" | grep -q ' \.symtab '; }
is_x86_64() { readelf -hW "$1" | grep -q 'Machine: *Advanced Micro Devices X86-64'; }
cet_marked() { readelf -nW "$1" 2>/dev/null | grep -q 'x86 feature: .*IBT.*SHSTK'; }
is_dyn() { [[ $(elf_type "$1") == DYN* ]]; }
no_interpreter() { ! has_segment "$1" INTERP; }
no_needed() { [[ -z $(dynamic_entry "$1" NEEDED) ]]; }
pie_flag() { [[ $(dynamic_entry "$1" FLAGS_1) == *' PIE '* ]]; }
bind_now() { [[ $(dynamic_entry "$1" FLAGS) == *' BIND_NOW '* || $(dynamic_entry "$1" FLAGS_1) == *' NOW '* ]]; }
starts() { "$1" --help >/dev/null; }
defines_function() { readelf -sW "$1" | awk -v f="$2" '$4 == "FUNC" && $7 != "UND" && $8 == f { n++ } END { exit !n }'; }

# The ELF structure of a static-pie with full RELRO; every check here survives strip.
check_structure() {
  local file=$1 what=$2
  check "$what: ELF type DYN (position-independent), got '$(elf_type "$file")'" is_dyn "$file"
  check "$what: no PT_INTERP (static, no program interpreter)" no_interpreter "$file"
  check "$what: no DT_NEEDED (no shared library)" no_needed "$file"
  check "$what: DT_FLAGS_1 has PIE (an executable, not a shared library)" pie_flag "$file"
  check "$what: PT_GNU_RELRO present (RELRO)" has_segment "$file" GNU_RELRO
  check "$what: DT_FLAGS BIND_NOW or DT_FLAGS_1 NOW (full RELRO)" bind_now "$file"
  check "$what: starts (--help exits 0)" starts "$file"
}

# CET property note, or why it cannot be there.
check_cet_note() {
  local file=$1 what=$2 start_file
  if ! is_x86_64 "$file"; then
    log "$what: not x86-64, no CET note to check"
    return
  fi
  if cet_marked "$file"; then
    pass "$what: .note.gnu.property marks IBT and SHSTK"
    return
  fi
  start_file=$(readlink -f "$(${CXX:-c++} -print-file-name=rcrt1.o 2>/dev/null)" 2>/dev/null || true)
  if [[ ! -f $start_file ]]; then
    fail "$what: .note.gnu.property lacks IBT and SHSTK, and no ${CXX:-c++} finds rcrt1.o to tell whether it could"
  elif cet_marked "$start_file"; then
    fail "$what: .note.gnu.property lacks IBT and SHSTK although the toolchain's $start_file has them"
  else
    log "$what: no IBT/SHSTK marking: the toolchain's $start_file carries none, so ld drops it from a" \
      "static glibc link; endbr64 at function entries is checked instead"
  fi
}

# Checks that need the symbol table.
check_symbols() {
  local file=$1 fortified globals results landing canaries missing
  check "__stack_chk_fail is linked in (stack protector)" defines_function "$file" __stack_chk_fail
  fortified=$(readelf -sW "$file" |
    awk '$4 == "FUNC" && $7 != "UND" && $8 ~ /^__[a-z0-9_]+_chk$/ && $8 !~ /^__(stack_)?chk_fail$/ { print $8 }' |
    sort -u | tr '\n' ' ')
  check "fortified __*_chk functions linked in (FORTIFY_SOURCE): ${fortified:-none}" test -n "$fortified"

  objdump -d --no-show-raw-insn "$file" >"$work/disassembly"
  # Global and weak functions of the program, by address: ld may keep several names for one body.
  readelf -sW "$file" |
    awk -v re="$program_functions" '$4 == "FUNC" && ($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && $8 ~ re { print $2 }' |
    sort -u >"$work/global_functions"
  globals=$(wc -l <"$work/global_functions")
  # Per function: its first instruction, and whether its body calls the canary failure handler.
  results=$(awk -v re="$program_functions" '
    FNR == NR { global[$1] = 1; next }
    /^[0-9a-f]+ <.*>:$/ {
      name = substr($2, 2, length($2) - 3)
      ours = name ~ re
      entry = (ours && ($1 in global)) ? 1 : 0
      next
    }
    entry && /^ +[0-9a-f]+:/ { if ($2 == "endbr64") landing++; else missing = missing " " name; entry = 0 }
    ours && /call.*<__stack_chk_fail/ && !(name in guarded) { guarded[name] = 1; canaries++ }
    END { printf "%d %d%s\n", landing, canaries, missing }' "$work/global_functions" "$work/disassembly")
  read -r landing canaries missing <<<"$results"
  check "the program's own functions call __stack_chk_fail (-fstack-protector-strong): $canaries of them" \
    test "$canaries" -gt 0
  local probe='or[lq]? +[$]0x0,.*[(]%[er]sp[)]'
  log "stack-clash probes (only where a frame exceeds a page): $(grep -cE "$probe" "$work/disassembly" || true)"
  if is_x86_64 "$file"; then
    check "endbr64 at the entry of every global program function (-fcf-protection): $landing of $globals" \
      test "$globals" -gt 0 -a "$landing" -eq "$globals" -a -z "${missing:-}"
    [[ -z ${missing:-} ]] || log "no endbr64 at: $(tr ' ' '\n' <<<"$missing" | head -n 10 | tr '\n' ' ')..."
  fi
}

check_size() {
  local file=$1 what=$2 size
  size=$(stat -c %s "$file")
  check "$what: $size bytes stripped, within the $max_stripped-byte budget" test "$size" -le "$max_stripped"
}

log "binary: $BINARY ($(stat -c %s "$BINARY") bytes)"
check_structure "$BINARY" binary
check_cet_note "$BINARY" binary
if has_symbols "$BINARY"; then
  check_symbols "$BINARY"
  stripped=$work/storage_api.stripped
  strip --strip-all -o "$stripped" "$BINARY"
  check_structure "$stripped" "stripped copy"
  check_size "$stripped" "stripped copy"
else
  log "stripped binary: the canary, FORTIFY and endbr64 checks need symbols; run this on the unstripped build"
  check_size "$BINARY" binary
fi

if command -v hardening-check >/dev/null; then
  # It reads dynamic symbols and takes a binary without interpreter for a shared library, so for a
  # static-pie only its relocation lines apply; the rest is printed for reference.
  hardening-check "$BINARY" >"$work/hardening-check" 2>&1 || true
  sed 's/^/  hardening-check: /' "$work/hardening-check"
  check "hardening-check: read-only relocations" grep -q 'Read-only relocations: yes' "$work/hardening-check"
  check "hardening-check: immediate binding" grep -q 'Immediate binding: yes' "$work/hardening-check"
else
  log "hardening-check (devscripts) not installed: skipped"
fi
finish
