#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the curated fuse-bpf series from harness/series/plan.

    series.py PLAN BASE REPO WORKDIR

The series is not main's history: it is the change from the pristine base
to the repository's kernel paths at HEAD, cut into the patches the plan
lists. Every change is a unit:
  - in a file the base has, each changed run of lines (a difflib opcode);
  - in a new file, each top-level item (a function, struct, macro, ...)
    with the comment above it and the blank lines after it.
Each unit goes to one patch, by the plan's rules:
  file  PATHRE           every unit of the matching files (weakest rule)
  block PATHRE NAMERE    the items of new files whose name matches NAMERE
  hunk  PATHRE TEXTRE    the runs of changed lines that match TEXTRE
A 'hunk' or 'block' rule beats a 'file' rule. Among matching 'hunk'
rules the latest patch wins, since a run that calls into two patches
needs both; among 'block' rules the first. A declaration in a new header
follows the definition of the function it declares. Patch N is then the
difference between the trees with the units of patches < N and <= N.

WORKDIR becomes a git repository: commit 'base' holds the pristine base
files, then one commit per patch. A unit no rule claims, or a rule that
claims nothing, is an error: nothing is lost and the plan stays exact.
"""

import difflib
import os
import re
import subprocess
import sys

# Changes at most this many lines apart are one unit
GAP = 0

KERNEL_PATHS = ['fs', 'include', 'kernel', 'tools', 'Documentation',
                'MAINTAINERS']


def die(msg):
    sys.stderr.write('series: error: %s\n' % msg)
    sys.exit(1)


def git(repo, *args, data=None):
    return subprocess.run(['git', '-C', repo] + list(args), input=data,
                          check=True, stdout=subprocess.PIPE).stdout


class Patch:
    def __init__(self, pid):
        self.id = pid
        self.subject = None
        self.body = []
        self.rules = []		# (kind, path_re, arg_re, lineno)


def parse_plan(path):
    patches = []
    perline = []
    cur = None
    lines = open(path).read().split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.startswith('#'):
            continue
        word, _, rest = line.partition(' ')
        if word == 'patch':
            cur = Patch(rest.strip())
            patches.append(cur)
        elif word == 'perline' and cur is None:
            perline.append(re.compile(rest.strip() + '$'))
        elif cur is None:
            die('%s:%d: rule before the first patch' % (path, i))
        elif word == 'subject':
            cur.subject = rest.strip()
        elif word == 'body':
            while i < len(lines) and lines[i] != '.':
                cur.body.append(lines[i])
                i += 1
            i += 1
        elif word in ('file', 'block', 'hunk'):
            parts = rest.split(None, 1)
            if (word == 'file') != (len(parts) == 1):
                die('%s:%d: bad rule' % (path, i))
            cur.rules.append((word, re.compile(parts[0] + '$'),
                              re.compile(parts[1]) if len(parts) > 1
                              else None, i))
        else:
            die('%s:%d: unknown keyword %r' % (path, i, word))
    for p in patches:
        if not p.subject or not p.body:
            die('plan: patch %s needs a subject and a body' % p.id)
    return patches, perline


def strip_code(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    line = re.sub(r'/\*.*?\*/', '', line)
    return re.sub(r'//.*', '', line)


def items(lines):
    """Top-level items of a C file: (first line, name) for each."""
    out = []
    depth = 0
    start = None
    in_comment = False
    for n, line in enumerate(lines):
        if start is None:
            if not line.strip():
                continue
            start = n
        code = line
        if in_comment:
            if '*/' not in code:
                continue
            code = code[code.index('*/') + 2:]
            in_comment = False
        code = strip_code(code)
        if '/*' in code:
            code = code[:code.index('/*')]
            in_comment = True
        depth += code.count('{') - code.count('}')
        if depth or in_comment:
            continue
        text = line.rstrip()
        body = '\n'.join(lines[start:n + 1])
        code_only = strip_code(re.sub(r'/\*.*?\*/', '', body, flags=re.S))
        if not code_only.strip():
            continue		# a comment: it belongs to the next item
        if text.endswith('\\') or text.endswith(','):
            continue
        if not (text.endswith(('}', ';', '};')) or
                text.lstrip().startswith('#')):
            continue
        out.append((start, item_name(code_only)))
        start = None
    return out


def item_name(code):
    code = code.strip()
    m = re.match(r'#\s*define\s+(\w+)', code)
    if m:
        return m.group(1)
    if code.startswith('#'):
        return '#'
    m = re.match(r'(?:static\s+)?(?:const\s+)?(?:struct|enum|union)\s+(\w+)\s*\{',
                 code)
    if m:
        return m.group(1)
    head = code.split('{')[0]
    m = re.search(r'(\w+)\s*(?:\[\w*\])?\s*=', head)
    if m and '(' not in head.split('=')[0]:
        return m.group(1)
    m = re.search(r'(\w+)\s*\(', head)
    if m:
        return m.group(1)
    m = re.search(r'(\w+)\s*;\s*$', head)
    return m.group(1) if m else '?'


class Unit:
    def __init__(self, path, kind, text, name=None):
        self.path = path
        self.kind = kind	# 'hunk' or 'block'
        self.text = text
        self.name = name
        self.patch = None


class File:
    def __init__(self, path, old, new, perline=False):
        self.path = path
        self.old = old		# list of lines, None for a new file
        self.new = new
        self.units = []
        if old is None:
            starts = items(new) or [(0, '?')]
            bounds = [0] + [s for s, _ in starts[1:]] + [len(new)]
            self.segs = []
            for k, (_, name) in enumerate(starts):
                u = Unit(path, 'block',
                         '\n'.join(new[bounds[k]:bounds[k + 1]]), name)
                self.units.append(u)
                self.segs.append((bounds[k], bounds[k + 1], u))
        else:
            sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
            self.ops = []
            u = None
            ops = sm.get_opcodes()
            if perline:
                # Each added line is a unit of its own
                ops = [o for tag, i1, i2, j1, j2 in ops
                       for o in ([(tag, i1, i2, j1, j2)] if tag != 'insert'
                                 else [('insert', i1, i1, j, j + 1)
                                       for j in range(j1, j2)])]
            for tag, i1, i2, j1, j2 in ops:
                if perline and tag != 'equal':
                    u = None
                if tag == 'equal':
                    # Changes a few lines apart are one unit, as in a diff
                    if i2 - i1 > GAP:
                        u = None
                    self.ops.append((tag, i1, i2, j1, j2, None))
                    continue
                if u is None:
                    u = Unit(path, 'hunk', '')
                    self.units.append(u)
                u.text += '\n'.join(old[i1:i2] + new[j1:j2]) + '\n'
                self.ops.append((tag, i1, i2, j1, j2, u))

    def content(self, upto):
        """The file with the units of patches <= upto, None if absent."""
        if self.old is None:
            out = []
            for a, b, u in self.segs:
                if u.patch <= upto:
                    out += self.new[a:b]
            if not out:
                return None
            if self.segs[0][2].patch > upto:
                die('%s: items of patch %d before the file head' %
                    (self.path, upto))
            while out and not out[-1].strip():
                out.pop()
            return '\n'.join(out) + '\n'
        out = []
        for tag, i1, i2, j1, j2, u in self.ops:
            if u is not None and u.patch <= upto:
                out += self.new[j1:j2]
            else:
                out += self.old[i1:i2]
        return '\n'.join(out)


def assign(files, patches):
    used = set()
    defs = {}
    for idx, p in enumerate(patches):
        for kind, pre, are, ln in p.rules:
            for f in files:
                if not pre.match(f.path):
                    continue
                for u in f.units:
                    if kind == 'file':
                        continue
                    if kind != u.kind:
                        continue
                    hit = (are.fullmatch(u.name) if kind == 'block'
                           else are.search(u.text))
                    if not hit:
                        continue
                    used.add(ln)
                    if kind == 'block':
                        if u.patch is None:
                            u.patch = idx
                    else:
                        u.patch = idx if u.patch is None else max(u.patch, idx)
    # A run of changed lines no rule names, such as the declaration of a
    # variable, goes with the next run of its file that a rule names
    for f in files:
        if f.old is None:
            continue
        nxt = None
        for u in reversed(f.units):
            if u.patch is None:
                u.patch = nxt
            else:
                nxt = u.patch
    def file_rules(which):
        for idx, p in enumerate(patches):
            for kind, pre, are, ln in p.rules:
                if kind != 'file':
                    continue
                for f in files:
                    if pre.match(f.path) and which(f):
                        used.add(ln)
                        for u in f.units:
                            if u.patch is None:
                                u.patch = idx

    # Declarations in new headers follow their definitions, known once
    # the new C files are assigned
    file_rules(lambda f: f.old is None and f.path.endswith('.c'))
    for f in files:
        for u in f.units:
            if u.kind == 'block' and u.patch is not None and \
               f.path.endswith('.c'):
                defs.setdefault(u.name, u.patch)
    for f in files:
        if f.old is not None or not f.path.endswith('.h'):
            continue
        for u in f.units:
            if u.patch is None and u.name in defs and \
               re.search(r'\b%s\s*\([^)]*\)\s*;' % re.escape(u.name),
                         u.text.replace('\n', ' ')):
                u.patch = defs[u.name]
    file_rules(lambda f: True)
    # The head of a new file (comment, includes, guards) comes with its
    # first item
    for f in files:
        if f.old is not None:
            continue
        known = [u.patch for u in f.units if u.patch is not None]
        if not known:
            continue
        for k, u in enumerate(f.units):
            if k == 0 or u.name == '#':
                u.patch = min(known)
    bad = False
    for p in patches:
        for kind, pre, are, ln in p.rules:
            if ln not in used:
                sys.stderr.write('plan:%d: rule claims nothing\n' % ln)
                bad = True
    for f in files:
        for u in f.units:
            if u.patch is None:
                sys.stderr.write('%s: no rule claims %s %s\n' %
                                 (f.path, u.kind, u.name or
                                  u.text.split('\n')[0][:60]))
                bad = True
    if bad:
        die('the plan does not match the tree')


def main():
    plan, base, repo, work = sys.argv[1:5]
    patches, perline = parse_plan(plan)
    paths = git(repo, 'ls-files', '-z', '--', *KERNEL_PATHS).decode()
    files = []
    for path in sorted(p for p in paths.split('\0') if p):
        if os.environ.get('SERIES_WORKTREE'):
            # For editing the plan: the working tree instead of HEAD
            if not os.path.exists(os.path.join(repo, path)):
                continue
            new = open(os.path.join(repo, path)).read()
        else:
            new = git(repo, 'cat-file', 'blob', 'HEAD:' + path).decode()
        bpath = os.path.join(base, path)
        old = open(bpath).read() if os.path.exists(bpath) else None
        if old == new:
            continue
        files.append(File(path, old.split('\n') if old is not None
                          else None,
                          new.split('\n') if old is not None
                          else new.rstrip('\n').split('\n'),
                          any(r.match(path) for r in perline)))
    assign(files, patches)

    subprocess.run(['git', 'init', '-q', '-b', 'series', work], check=True)
    for f in files:
        if f.old is not None:
            dst = os.path.join(work, f.path)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, 'w') as fp:
                fp.write('\n'.join(f.old))
    git(work, 'add', '-A')
    git(work, 'commit', '-q', '--allow-empty', '-m', 'pristine base')
    git(work, 'tag', 'base')
    signoff = git(repo, 'var', 'GIT_COMMITTER_IDENT').decode()
    signoff = re.sub(r'>.*', '>', signoff).strip()
    for idx, p in enumerate(patches):
        for f in files:
            text = f.content(idx)
            dst = os.path.join(work, f.path)
            if text is None:
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, 'w') as fp:
                fp.write(text)
        git(work, 'add', '-A')
        if not git(work, 'diff', '--cached', '--name-only').strip():
            die('patch %s is empty' % p.id)
        msg = '%s\n\n%s\n\nSigned-off-by: %s\n' % (
            p.subject, '\n'.join(p.body).strip('\n'), signoff)
        git(work, 'commit', '-q', '-F', '-', data=msg.encode())
    # The last patch must give HEAD's tree exactly
    for f in files:
        have = open(os.path.join(work, f.path)).read()
        want = '\n'.join(f.new) + ('\n' if f.old is None else '')
        if have != want:
            die('%s: the series does not end at HEAD' % f.path)
    print('%d patches' % len(patches))


if __name__ == '__main__':
    main()
