#!/usr/bin/env python3
"""Check etc/compose/docker-compose.yml and the Dockerfile without Docker.

  deploy_compose.py COMPOSE DOCKERFILE BUILD_DIR

There is no Docker engine and no PyYAML here, so this reads the subset of
YAML the compose file uses (block mappings and sequences, flow sequences,
quoted and plain scalars, comments) and checks what Docker would only find
out at run time: every service runs the image the Dockerfile builds with a
command its entry point knows, every health check runs a program the image
installs, every dependency, volume, port, variable and setting exists, and
the image's runtime packages (Debian 12's) provide every shared library
that the built binaries need.  Exit 0, or 1 with one line per problem.
"""
import os
import re
import subprocess
import sys


# ---- a YAML subset ------------------------------------------------------------

class YamlError(Exception):
    pass


def strip_comment(line):
    out, quote = [], None
    for i, ch in enumerate(line):
        if quote:
            if ch == '\\' and quote == '"':
                out.append(ch)
                continue
            if ch == quote and not (quote == '"' and i > 0 and line[i - 1] == '\\'):
                quote = None
        elif ch in '"\'':
            quote = ch
        elif ch == '#' and (i == 0 or line[i - 1] in ' \t'):
            break
        out.append(ch)
    return ''.join(out).rstrip()


def scalar(text, lineno):
    text = text.strip()
    if text == '' or text == '~' or text == 'null':
        return None
    if text[0] == '"':
        if len(text) < 2 or text[-1] != '"':
            raise YamlError('line %d: unterminated string' % lineno)
        body = text[1:-1]
        return re.sub(r'\\(.)', lambda m: {'n': '\n', 't': '\t'}.get(m.group(1), m.group(1)), body)
    if text[0] == "'":
        if len(text) < 2 or text[-1] != "'":
            raise YamlError('line %d: unterminated string' % lineno)
        return text[1:-1].replace("''", "'")
    if text[0] == '[':
        if text[-1] != ']':
            raise YamlError('line %d: unterminated flow sequence' % lineno)
        inner = text[1:-1].strip()
        if not inner:
            return []
        items, cur, quote = [], '', None
        for ch in inner:
            if quote:
                cur += ch
                if ch == quote and not cur.endswith('\\' + quote):
                    quote = None
            elif ch in '"\'':
                quote = ch
                cur += ch
            elif ch == ',':
                items.append(scalar(cur, lineno))
                cur = ''
            else:
                cur += ch
        items.append(scalar(cur, lineno))
        return items
    if text[0] in '{&*|>!%@`':
        raise YamlError('line %d: unsupported YAML: %s' % (lineno, text))
    if text in ('true', 'false'):
        return text == 'true'
    if re.fullmatch(r'-?[0-9]+', text):
        return int(text)
    return text


def parse_yaml(text):
    lines = []
    for n, raw in enumerate(text.split('\n'), 1):
        if '\t' in raw[:len(raw) - len(raw.lstrip())]:
            raise YamlError('line %d: tab in indentation' % n)
        line = strip_comment(raw)
        if line.strip() in ('', '---'):
            continue
        lines.append((len(line) - len(line.lstrip(' ')), line.strip(), n))
    value, pos = parse_block(lines, 0, 0)
    if pos != len(lines):
        raise YamlError('line %d: unexpected indentation' % lines[pos][2])
    return value


def parse_block(lines, pos, indent):
    if pos >= len(lines) or lines[pos][0] < indent:
        return None, pos
    indent = lines[pos][0]
    if lines[pos][1].startswith('- ') or lines[pos][1] == '-':
        return parse_seq(lines, pos, indent)
    return parse_map(lines, pos, indent)


def parse_seq(lines, pos, indent):
    out = []
    while pos < len(lines) and lines[pos][0] == indent:
        ind, text, n = lines[pos]
        if not (text.startswith('- ') or text == '-'):
            raise YamlError('line %d: expected "- "' % n)
        item = text[1:].strip()
        if item == '' or re.match(r'^[^"\'\[][^:]*:(\s|$)', item):
            raise YamlError('line %d: only scalar sequence items are supported' % n)
        out.append(scalar(item, n))
        pos += 1
    return out, pos


def parse_map(lines, pos, indent):
    out = {}
    while pos < len(lines) and lines[pos][0] == indent:
        ind, text, n = lines[pos]
        m = re.match(r'^("[^"]*"|\'[^\']*\'|[^:]+?):(\s+(.*))?$', text)
        if not m:
            raise YamlError('line %d: expected "key: value"' % n)
        key = scalar(m.group(1), n)
        if key in out:
            raise YamlError('line %d: duplicate key %r' % (n, key))
        rest = (m.group(3) or '').strip()
        pos += 1
        if rest:
            out[key] = scalar(rest, n)
        elif pos < len(lines) and lines[pos][0] > indent:
            out[key], pos = parse_block(lines, pos, lines[pos][0])
        elif pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith('- '):
            out[key], pos = parse_seq(lines, pos, indent)
        else:
            out[key] = None
    if pos < len(lines) and lines[pos][0] > indent:
        raise YamlError('line %d: unexpected indentation' % lines[pos][2])
    return out, pos


# ---- the Dockerfile ------------------------------------------------------------

def dockerfile_stages(path):
    """[(base, name, [instructions])] with continuation lines joined."""
    stages, joined, cur = [], [], ''
    for raw in open(path, encoding='utf-8'):
        line = raw.rstrip('\n')
        if not cur and line.strip().startswith('#'):
            continue
        if line.endswith('\\'):
            cur += line[:-1] + ' '
            continue
        cur += line
        if cur.strip():
            joined.append(cur.strip())
        cur = ''
    for ins in joined:
        word = ins.split(None, 1)[0].upper()
        if word == 'FROM':
            parts = ins.split()
            name = parts[3] if len(parts) >= 4 and parts[2].upper() == 'AS' else None
            stages.append((parts[1], name, []))
        elif stages:
            stages[-1][2].append(ins)
    return stages


def apt_packages(instr):
    m = re.search(r'apt-get install (.*?)(&&|$)', instr)
    if not m:
        return []
    return [w for w in m.group(1).split() if not w.startswith('-')]


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True).stdout


def dep_closure(pkgs):
    out = run(['apt-cache', 'depends', '--recurse', '--no-recommends',
               '--no-suggests', '--no-conflicts', '--no-breaks',
               '--no-replaces', '--no-enhances'] + pkgs)
    names = set(pkgs)
    for line in out.split('\n'):
        line = line.strip()
        m = re.match(r'^(?:\|?(?:Pre)?Depends: )?<?([a-z0-9][a-z0-9.+-]+)(?::[a-z0-9]+)?>?$', line)
        if m:
            names.add(m.group(1))
    return names


_owner = {}
_asked = set()


def path_variants(path):
    cands = [path, os.path.realpath(path)]
    for p in list(cands):
        for a, b in (('/usr/lib/', '/lib/'), ('/lib/', '/usr/lib/'),
                     ('/usr/bin/', '/bin/'), ('/bin/', '/usr/bin/'),
                     ('/usr/sbin/', '/sbin/'), ('/sbin/', '/usr/sbin/')):
            if p.startswith(a):
                cands.append(b + p[len(a):])
    return cands


def learn_owners(paths):
    """One dpkg -S for many files (it is slow per call)."""
    want = sorted({v for p in paths for v in path_variants(p)} - _asked)
    if not want:
        return
    _asked.update(want)
    for line in run(['dpkg', '-S'] + want).split('\n'):
        if ': ' not in line:
            continue
        pkgs, path = line.split(': ', 1)
        _owner.setdefault(path.strip(), pkgs.split(',')[0].split(':')[0].strip())


def owning_package(path):
    learn_owners([path])
    for p in path_variants(path):
        if p in _owner:
            return _owner[p]
    return None


def required_packages():
    out = run(['dpkg-query', '-W', '-f', '${Package} ${Priority} ${Essential}\n'])
    req = set()
    for line in out.split('\n'):
        parts = line.split()
        if len(parts) >= 2 and (parts[1] == 'required' or 'yes' in parts[2:]):
            req.add(parts[0])
    return req


# ---- checks --------------------------------------------------------------------

def main():
    compose_path, dockerfile, build = sys.argv[1], sys.argv[2], sys.argv[3]
    problems = []

    def bad(msg):
        problems.append(msg)

    try:
        doc = parse_yaml(open(compose_path, encoding='utf-8').read())
    except YamlError as e:
        print('%s: %s' % (compose_path, e))
        return 1
    cdir = os.path.dirname(os.path.abspath(compose_path))
    top = os.path.abspath(os.path.join(cdir, '..', '..'))
    binary = os.path.join(top, build, 'bin', 'localai')
    entry = os.path.join(cdir, 'entrypoint.sh')
    env_example = os.path.join(cdir, 'env.example')

    if not isinstance(doc, dict):
        return print('compose: not a mapping') or 1
    for k in doc:
        if k not in ('name', 'services', 'volumes', 'networks'):
            bad('unknown top-level key %r' % k)
    services = doc.get('services') or {}
    volumes = doc.get('volumes') or {}
    if not isinstance(services, dict) or not services:
        return print('compose: no services') or 1

    # The entry point's subcommands, from its case statement.
    entry_cmds = set()
    for line in open(entry, encoding='utf-8'):
        m = re.match(r'^([a-z|]+)\)\s*$', line.strip())
        if m:
            entry_cmds.update(m.group(1).split('|'))
    if not {'postgres', 'nats', 'frontend', 'worker'} <= entry_cmds:
        bad('entrypoint.sh lacks subcommands: %s' % entry_cmds)

    # The Dockerfile: Debian 12 bases, the runtime stage's packages.
    stages = dockerfile_stages(dockerfile)
    if not stages:
        bad('Dockerfile has no FROM')
    names = {s[1] for s in stages if s[1]}
    for base, name, ins in stages:
        if base != 'debian:12' and base not in names:
            bad('Dockerfile: FROM %s is not debian:12' % base)
    runtime = stages[-1][2] if stages else []
    pkgs = [p for i in runtime for p in apt_packages(i)]
    every = sorted({p for base, name, ins in stages for i in ins for p in apt_packages(i)})
    known = set(re.findall(r'^Package: (\S+)$', run(['apt-cache', 'show', '--no-all-versions'] + every), re.M))
    for p in every:
        if p not in known:
            bad('Dockerfile: package %s is not in Debian 12' % p)
    for base, name, ins in stages:
        for i in ins:
            m = re.match(r'^COPY\s+(--from=(\S+)\s+)?(\S+)\s+(\S+)$', i)
            if m and m.group(2) is None and not os.path.exists(os.path.join(top, m.group(3))):
                bad('Dockerfile: COPY source %s does not exist' % m.group(3))
            if m and m.group(2) is not None and m.group(2) not in names:
                bad('Dockerfile: COPY --from=%s: no such stage' % m.group(2))
    entry_ok = any('/usr/local/bin/localai-entrypoint' in i for i in runtime if i.startswith('COPY'))
    if not entry_ok or not any(i.startswith('ENTRYPOINT') and 'localai-entrypoint' in i for i in runtime):
        bad('Dockerfile: the entry point is not installed and used')
    closure = dep_closure(pkgs) if pkgs else set()
    base_pkgs = required_packages()

    def provided(prog):
        path = prog if prog.startswith('/') else run(['sh', '-c', 'command -v ' + prog]).strip()
        if not path:
            return False
        pkg = owning_package(path)
        return pkg is not None and (pkg in closure or pkg in base_pkgs)

    # Every shared library of the built binaries comes from the image.
    bins = [binary] + [os.path.join(top, build, 'backends', b, 'run')
                       for b in sorted(os.listdir(os.path.join(top, build, 'backends')))]
    libs = {b: re.findall(r'=> (/\S+)', run(['ldd', b])) for b in bins}
    learn_owners([l for ls in libs.values() for l in ls])
    for b in bins:
        for lib in libs[b]:
            pkg = owning_package(lib)
            if pkg is None:
                bad('%s: %s belongs to no package' % (b, lib))
            elif pkg not in closure and pkg not in base_pkgs:
                bad('%s needs %s from %s, which the image does not install' %
                    (os.path.relpath(b, top), os.path.basename(lib), pkg))
    # The entry point's programs come from the image too.
    for prog in ('/usr/lib/postgresql/15/bin/initdb', '/usr/lib/postgresql/15/bin/postgres',
                 'nats-server', 'runuser', 'install'):
        if not provided(prog):
            bad('entrypoint.sh runs %s, which the image does not install' % prog)

    with open(binary, 'rb') as f:
        binary_bytes = f.read()
    defined = set()
    for line in open(env_example, encoding='utf-8'):
        m = re.match(r'^([A-Z_][A-Z0-9_]*)=', line)
        if m:
            defined.add(m.group(1))

    built, kinds, host_ports = 0, {}, {}
    for sname, svc in services.items():
        where = 'service %s' % sname
        if not isinstance(svc, dict):
            bad('%s: not a mapping' % where)
            continue
        if svc.get('image') != 'localai:latest':
            bad('%s: image %r is not the one the Dockerfile builds' % (where, svc.get('image')))
        b = svc.get('build')
        if b is not None:
            built += 1
            ctx = os.path.normpath(os.path.join(cdir, b.get('context', '.')))
            if not os.path.isfile(os.path.join(ctx, b.get('dockerfile', 'Dockerfile'))) or \
                    os.path.realpath(os.path.join(ctx, b.get('dockerfile', 'Dockerfile'))) != os.path.realpath(dockerfile):
                bad('%s: build does not name the Dockerfile' % where)
        cmd = svc.get('command')
        if not isinstance(cmd, list) or not cmd or cmd[0] not in entry_cmds:
            bad('%s: command %r is not an entrypoint.sh subcommand' % (where, cmd))
        else:
            kinds.setdefault(cmd[0], []).append(sname)
        hc = svc.get('healthcheck')
        if not isinstance(hc, dict) or not isinstance(hc.get('test'), list) or \
                hc['test'][:1] != ['CMD'] or len(hc['test']) < 2:
            bad('%s: no health check of the form ["CMD", program, ...]' % where)
        elif not provided(hc['test'][1]):
            bad('%s: health check runs %s, which the image does not install' % (where, hc['test'][1]))
        for dep, cond in (svc.get('depends_on') or {}).items():
            if dep not in services:
                bad('%s: depends on unknown service %s' % (where, dep))
                continue
            c = (cond or {}).get('condition', 'service_started')
            if c not in ('service_started', 'service_healthy', 'service_completed_successfully'):
                bad('%s: bad condition %s' % (where, c))
            if c == 'service_healthy' and not (services[dep] or {}).get('healthcheck'):
                bad('%s: waits for %s to be healthy, which has no health check' % (where, dep))
        for v in svc.get('volumes') or []:
            src = str(v).split(':')[0]
            if src.startswith('.') or src.startswith('/'):
                if not os.path.exists(os.path.normpath(os.path.join(cdir, src))):
                    bad('%s: bind mount %s does not exist' % (where, src))
            elif src not in volumes:
                bad('%s: volume %s is not declared' % (where, src))
        for p in svc.get('ports') or []:
            hp = str(p).split(':')[0]
            if hp in host_ports:
                bad('%s: host port %s also used by %s' % (where, hp, host_ports[hp]))
            host_ports[hp] = sname
        env = svc.get('environment') or {}
        if not isinstance(env, dict):
            bad('%s: environment must be a mapping' % where)
            env = {}
        for k, v in env.items():
            if k.startswith('LOCALAI_') and (k.encode() + b'\0') not in binary_bytes:
                bad('%s: %s is not a localai setting' % (where, k))
            for var in re.findall(r'\$\{([A-Z_][A-Z0-9_]*)', str(v)):
                if var not in defined:
                    bad('%s: ${%s} is not in env.example' % (where, var))
            for host in re.findall(r'@([a-z0-9-]+):[0-9]+', str(v)) + \
                    re.findall(r'^https?://([a-z0-9-]+):[0-9]+', str(v)):
                if host not in services:
                    bad('%s: %s names unknown service %s' % (where, k, host))
            if k in ('LOCALAI_ADVERTISE_ADDR', 'LOCALAI_ADVERTISE_HTTP_ADDR') and \
                    str(v).split(':')[0] != sname:
                bad('%s: %s should name the service itself' % (where, k))

    if built != 1:
        bad('exactly one service should build the image (found %d)' % built)
    for k, want in (('postgres', 1), ('nats', 1), ('frontend', 2), ('worker', 2)):
        if len(kinds.get(k, [])) < want:
            bad('want %d %s service(s), have %s' % (want, k, kinds.get(k, [])))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
