/*
 * Java-subset regular expressions (see jregex.h): a recursive-descent parser builds a small AST,
 * which is compiled to a backtracking VM program (BYTE/ANY/CLASS/SPLIT/JMP/SAVE/...). SPLIT
 * tries its first branch first, which gives Java's leftmost-first, greedy/lazy semantics; star
 * loops carry a progress check so an empty iteration cannot loop forever.
 */
#include "auth/jregex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 2048
#define MAX_CLASSES 128
#define MAX_PROG 8192
#define MAX_LOOPS 64
#define MAX_REPEAT 1000
#define MAX_DEPTH 20000
#define NONE SIZE_MAX

enum rk {
    RK_EMPTY,  /* matches the empty string */
    RK_BYTE,   /* one literal byte */
    RK_ANY,    /* . */
    RK_CLASS,  /* [...] or \d \w \s ... */
    RK_BOL,    /* ^ */
    RK_EOL,    /* $ */
    RK_CAT,    /* a then b */
    RK_ALT,    /* a | b */
    RK_GROUP,  /* ( a ), capturing when group > 0 */
    RK_REPEAT, /* a{min,max}, max < 0 = unbounded */
};

struct rnode {
    enum rk k;    /* kind */
    int a, b;     /* children (node indices) */
    uint8_t byte; /* RK_BYTE */
    int cls;      /* RK_CLASS: class index */
    int group;    /* RK_GROUP: capture number, 0 = non-capturing */
    int min, max; /* RK_REPEAT bounds */
    bool lazy;    /* RK_REPEAT: reluctant */
};

enum op {
    OP_BYTE,     /* match byte `byte` */
    OP_ANY,      /* any byte but \n and \r */
    OP_CLASS,    /* byte in class x */
    OP_BOL,      /* at input start */
    OP_EOL,      /* at input end (or before a final line terminator) */
    OP_SPLIT,    /* try x, then y */
    OP_JMP,      /* go to x */
    OP_SAVE,     /* capture slot x = position */
    OP_MARK,     /* loop register x = position */
    OP_PROGRESS, /* leave the loop if the iteration matched empty (register x) */
    OP_MATCH,    /* success */
};

struct inst {
    uint8_t op;   /* enum op */
    uint8_t byte; /* OP_BYTE */
    int x, y;     /* operands */
};

struct st_jre {
    struct inst *prog;      /* program */
    int n;                  /* instructions */
    uint8_t (*classes)[32]; /* class bitmaps */
    int groups;             /* capturing groups */
    int loops;              /* loop registers */
};

struct parser {
    const char *s;                    /* pattern */
    size_t i, n;                      /* position, length */
    struct rnode nodes[MAX_NODES];    /* AST pool */
    int nn;                           /* nodes used */
    uint8_t classes[MAX_CLASSES][32]; /* class pool */
    int nc;                           /* classes used */
    int groups;                       /* capturing groups seen */
    const char *err;                  /* first error */
};

static int
node(struct parser *p, enum rk k)
{
    if (p->nn == MAX_NODES) {
        p->err = "regex: pattern too large";
        return -1;
    }
    struct rnode *r = &p->nodes[p->nn];
    memset(r, 0, sizeof(*r));
    r->k = k;
    r->a = r->b = -1;
    return p->nn++;
}

static int
new_class(struct parser *p)
{
    if (p->nc == MAX_CLASSES) {
        p->err = "regex: too many character classes";
        return -1;
    }
    memset(p->classes[p->nc], 0, 32);
    return p->nc++;
}

static void
cls_set(uint8_t *c, unsigned b)
{
    c[b >> 3] |= (uint8_t)(1u << (b & 7));
}

static bool
cls_has(const uint8_t *c, unsigned b)
{
    return (c[b >> 3] >> (b & 7)) & 1;
}

/* Adds the predefined class for \d \w \s (upper case: complement) to `c`. */
static void
cls_predef(uint8_t *c, char e)
{
    uint8_t t[32] = {0};
    char lower = (char)(e | 0x20);
    for (unsigned b = 0; b < 128; b++) {
        bool in = lower == 'd' ? (b >= '0' && b <= '9')
                  : lower == 'w'
                      ? ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                         (b >= '0' && b <= '9') || b == '_')
                      : (b == ' ' || b == '\t' || b == '\n' || b == 0x0B || b == '\f' || b == '\r');
        if (in)
            cls_set(t, b);
    }
    for (unsigned b = 0; b < 256; b++) {
        bool in = cls_has(t, b);
        if (e != lower)
            in = !in;
        if (in)
            cls_set(c, b);
    }
}

static bool
is_predef(char c)
{
    return c == 'd' || c == 'D' || c == 'w' || c == 'W' || c == 's' || c == 'S';
}

/* Control escapes shared by both contexts; returns -1 if `c` is not one. */
static int
ctl_escape(char c)
{
    switch (c) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'a':
        return 0x07;
    case 'e':
        return 0x1B;
    }
    return -1;
}

static bool
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Parses a class body after '['; returns the node or -1. */
static int
parse_class(struct parser *p)
{
    int ci = new_class(p);
    if (ci < 0)
        return -1;
    uint8_t *c = p->classes[ci];
    bool neg = false;
    if (p->i < p->n && p->s[p->i] == '^') {
        neg = true;
        p->i++;
    }
    if (p->i < p->n && p->s[p->i] == ']') {
        p->err = "regex: empty or ']'-leading class is not supported";
        return -1;
    }
    for (;;) {
        if (p->i >= p->n) {
            p->err = "regex: unclosed character class";
            return -1;
        }
        unsigned char ch = (unsigned char)p->s[p->i];
        if (ch == ']') {
            p->i++;
            break;
        }
        if (ch == '[' || (ch == '&' && p->i + 1 < p->n && p->s[p->i + 1] == '&')) {
            p->err = "regex: nested classes and intersections are not supported";
            return -1;
        }
        if (ch >= 0x80) {
            p->err = "regex: non-ASCII characters in classes are not supported";
            return -1;
        }
        int lo;
        p->i++;
        if (ch == '\\') {
            if (p->i >= p->n) {
                p->err = "regex: trailing backslash";
                return -1;
            }
            char e = p->s[p->i++];
            if (is_predef(e)) {
                cls_predef(c, e);
                continue;
            }
            lo = ctl_escape(e);
            if (lo < 0) {
                if (is_alnum((unsigned char)e) || (unsigned char)e >= 0x80) {
                    p->err = "regex: unsupported escape in class";
                    return -1;
                }
                lo = (unsigned char)e;
            }
        } else {
            lo = ch;
        }
        int hi = lo;
        if (p->i + 1 < p->n && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
            p->i++;
            unsigned char h = (unsigned char)p->s[p->i++];
            if (h == '\\') {
                if (p->i >= p->n) {
                    p->err = "regex: trailing backslash";
                    return -1;
                }
                char e = p->s[p->i++];
                hi = ctl_escape(e);
                if (hi < 0) {
                    if (is_alnum((unsigned char)e) || (unsigned char)e >= 0x80) {
                        p->err = "regex: unsupported escape in class range";
                        return -1;
                    }
                    hi = (unsigned char)e;
                }
            } else if (h == '[' || h >= 0x80) {
                p->err = "regex: unsupported class range";
                return -1;
            } else {
                hi = h;
            }
            if (hi < lo) {
                p->err = "regex: illegal character range";
                return -1;
            }
        }
        for (int b = lo; b <= hi; b++)
            cls_set(c, (unsigned)b);
    }
    if (neg) {
        for (int k = 0; k < 32; k++)
            c[k] = (uint8_t)~c[k];
    }
    int n = node(p, RK_CLASS);
    if (n >= 0)
        p->nodes[n].cls = ci;
    return n;
}

static int parse_alt(struct parser *p);

/* Parses one atom; returns the node, -1 on error, -2 at a ')' '|' or end (no atom). */
static int
parse_atom(struct parser *p)
{
    if (p->i >= p->n)
        return -2;
    unsigned char ch = (unsigned char)p->s[p->i];
    switch (ch) {
    case '|':
    case ')':
        return -2;
    case '*':
    case '+':
    case '?':
    case '{':
        p->err = "regex: dangling quantifier";
        return -1;
    case '(': {
        p->i++;
        int g = 0;
        if (p->i < p->n && p->s[p->i] == '?') {
            if (p->i + 1 < p->n && p->s[p->i + 1] == ':') {
                p->i += 2;
            } else {
                p->err = "regex: only (?:...) special groups are supported";
                return -1;
            }
        } else {
            if (p->groups == ST_JRE_MAX_GROUPS) {
                p->err = "regex: too many groups";
                return -1;
            }
            g = ++p->groups;
        }
        int inner = parse_alt(p);
        if (inner < 0)
            return -1;
        if (p->i >= p->n || p->s[p->i] != ')') {
            p->err = "regex: unclosed group";
            return -1;
        }
        p->i++;
        int n = node(p, RK_GROUP);
        if (n < 0)
            return -1;
        p->nodes[n].a = inner;
        p->nodes[n].group = g;
        return n;
    }
    case '[':
        p->i++;
        return parse_class(p);
    case '.':
        p->i++;
        return node(p, RK_ANY);
    case '^':
        p->i++;
        return node(p, RK_BOL);
    case '$':
        p->i++;
        return node(p, RK_EOL);
    case '\\': {
        p->i++;
        if (p->i >= p->n) {
            p->err = "regex: trailing backslash";
            return -1;
        }
        char e = p->s[p->i++];
        if (is_predef(e)) {
            int ci = new_class(p);
            if (ci < 0)
                return -1;
            cls_predef(p->classes[ci], e);
            int n = node(p, RK_CLASS);
            if (n >= 0)
                p->nodes[n].cls = ci;
            return n;
        }
        int b = ctl_escape(e);
        if (b < 0) {
            if (is_alnum((unsigned char)e) || (unsigned char)e >= 0x80) {
                p->err = "regex: unsupported escape (back references, \\b, \\p, \\Q, \\x, \\u...)";
                return -1;
            }
            b = (unsigned char)e;
        }
        int n = node(p, RK_BYTE);
        if (n >= 0)
            p->nodes[n].byte = (uint8_t)b;
        return n;
    }
    default: {
        p->i++;
        int n = node(p, RK_BYTE);
        if (n >= 0)
            p->nodes[n].byte = ch;
        return n;
    }
    }
}

static bool
parse_int(struct parser *p, int *out)
{
    size_t s = p->i;
    long v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        v = v * 10 + (p->s[p->i] - '0');
        if (v > MAX_REPEAT)
            return false;
        p->i++;
    }
    *out = (int)v;
    return p->i > s;
}

/* Parses an atom and its quantifiers. */
static int
parse_repeat(struct parser *p)
{
    int a = parse_atom(p);
    if (a < 0)
        return a;
    while (p->i < p->n) {
        char q = p->s[p->i];
        int min, max;
        if (q == '*') {
            min = 0;
            max = -1;
            p->i++;
        } else if (q == '+') {
            min = 1;
            max = -1;
            p->i++;
        } else if (q == '?') {
            min = 0;
            max = 1;
            p->i++;
        } else if (q == '{') {
            p->i++;
            if (!parse_int(p, &min)) {
                p->err = "regex: illegal repetition";
                return -1;
            }
            max = min;
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                max = -1;
                if (p->i < p->n && p->s[p->i] != '}' && !parse_int(p, &max)) {
                    p->err = "regex: illegal repetition";
                    return -1;
                }
            }
            if (p->i >= p->n || p->s[p->i] != '}' || (max >= 0 && max < min)) {
                p->err = "regex: illegal repetition";
                return -1;
            }
            p->i++;
        } else {
            break;
        }
        enum rk k = p->nodes[a].k;
        if (k == RK_BOL || k == RK_EOL || (k == RK_BYTE && p->nodes[a].byte >= 0x80)) {
            p->err = "regex: quantifier on an anchor or a non-ASCII character is not supported";
            return -1;
        }
        bool lazy = false;
        if (p->i < p->n && p->s[p->i] == '?') {
            lazy = true;
            p->i++;
        } else if (p->i < p->n && p->s[p->i] == '+') {
            p->err = "regex: possessive quantifiers are not supported";
            return -1;
        }
        int r = node(p, RK_REPEAT);
        if (r < 0)
            return -1;
        p->nodes[r].a = a;
        p->nodes[r].min = min;
        p->nodes[r].max = max;
        p->nodes[r].lazy = lazy;
        a = r;
    }
    return a;
}

static int
parse_cat(struct parser *p)
{
    int left = -1;
    for (;;) {
        int r = parse_repeat(p);
        if (r == -1)
            return -1;
        if (r == -2)
            break;
        if (left < 0) {
            left = r;
        } else {
            int c = node(p, RK_CAT);
            if (c < 0)
                return -1;
            p->nodes[c].a = left;
            p->nodes[c].b = r;
            left = c;
        }
    }
    return left >= 0 ? left : node(p, RK_EMPTY);
}

static int
parse_alt(struct parser *p)
{
    int left = parse_cat(p);
    while (left >= 0 && p->i < p->n && p->s[p->i] == '|') {
        p->i++;
        int right = parse_cat(p);
        if (right < 0)
            return -1;
        int a = node(p, RK_ALT);
        if (a < 0)
            return -1;
        p->nodes[a].a = left;
        p->nodes[a].b = right;
        left = a;
    }
    return left;
}

/* ---------------------------------------------------------------- code generation */

struct gen {
    struct parser *p;  /* the AST */
    struct inst *prog; /* output */
    int n;             /* instructions emitted */
    int loops;         /* loop registers used */
    bool full;         /* program too large */
};

static int
emit(struct gen *g, enum op op, int x, int y)
{
    if (g->n == MAX_PROG) {
        g->full = true;
        return MAX_PROG - 1;
    }
    g->prog[g->n] = (struct inst){(uint8_t)op, 0, x, y};
    return g->n++;
}

static void
gen_node(struct gen *g, int ni)
{
    if (g->full)
        return;
    const struct rnode *r = &g->p->nodes[ni];
    switch (r->k) {
    case RK_EMPTY:
        break;
    case RK_BYTE: {
        int i = emit(g, OP_BYTE, 0, 0);
        g->prog[i].byte = r->byte;
        break;
    }
    case RK_ANY:
        emit(g, OP_ANY, 0, 0);
        break;
    case RK_CLASS:
        emit(g, OP_CLASS, r->cls, 0);
        break;
    case RK_BOL:
        emit(g, OP_BOL, 0, 0);
        break;
    case RK_EOL:
        emit(g, OP_EOL, 0, 0);
        break;
    case RK_CAT:
        gen_node(g, r->a);
        gen_node(g, r->b);
        break;
    case RK_ALT: {
        int split = emit(g, OP_SPLIT, 0, 0);
        g->prog[split].x = g->n;
        gen_node(g, r->a);
        int jmp = emit(g, OP_JMP, 0, 0);
        g->prog[split].y = g->n;
        gen_node(g, r->b);
        g->prog[jmp].x = g->n;
        break;
    }
    case RK_GROUP:
        if (r->group > 0)
            emit(g, OP_SAVE, 2 * r->group, 0);
        gen_node(g, r->a);
        if (r->group > 0)
            emit(g, OP_SAVE, 2 * r->group + 1, 0);
        break;
    case RK_REPEAT: {
        for (int k = 0; k < r->min && !g->full; k++)
            gen_node(g, r->a);
        if (r->max < 0) {
            if (g->loops == MAX_LOOPS) {
                g->full = true;
                return;
            }
            int reg = g->loops++;
            int split = emit(g, OP_SPLIT, 0, 0);
            int body = g->n;
            emit(g, OP_MARK, reg, 0);
            gen_node(g, r->a);
            emit(g, OP_PROGRESS, reg, 0);
            emit(g, OP_JMP, split, 0);
            int end = g->n;
            g->prog[split].x = r->lazy ? end : body;
            g->prog[split].y = r->lazy ? body : end;
        } else {
            int opt = r->max - r->min;
            int splits[MAX_REPEAT];
            for (int k = 0; k < opt && !g->full; k++) {
                splits[k] = emit(g, OP_SPLIT, 0, 0);
                g->prog[splits[k]].x = g->n; /* body; fixed below for lazy */
                gen_node(g, r->a);
            }
            int end = g->n;
            for (int k = 0; k < opt && !g->full; k++) {
                int body = splits[k] + 1;
                g->prog[splits[k]].x = r->lazy ? end : body;
                g->prog[splits[k]].y = r->lazy ? body : end;
            }
        }
        break;
    }
    }
}

struct st_jre *
st_jre_compile(const char *pattern, const char **err)
{
    struct parser *p = calloc(1, sizeof(*p));
    struct st_jre *re = calloc(1, sizeof(*re));
    struct inst *prog = malloc(MAX_PROG * sizeof(*prog));
    if (p == NULL || re == NULL || prog == NULL) {
        free(p);
        free(re);
        free(prog);
        *err = "out of memory";
        return NULL;
    }
    p->s = pattern;
    p->n = strlen(pattern);
    int root = parse_alt(p);
    if (root >= 0 && p->i < p->n) {
        p->err = "regex: unmatched ')'";
        root = -1;
    }
    if (root < 0) {
        *err = p->err ? p->err : "regex: invalid pattern";
        goto bad;
    }
    struct gen g = {p, prog, 0, 0, false};
    gen_node(&g, root);
    emit(&g, OP_MATCH, 0, 0);
    if (g.full) {
        *err = "regex: pattern too large";
        goto bad;
    }
    re->prog = prog;
    re->n = g.n;
    re->groups = p->groups;
    re->loops = g.loops;
    re->classes = malloc((size_t)(p->nc ? p->nc : 1) * 32);
    if (re->classes == NULL) {
        *err = "out of memory";
        goto bad;
    }
    memcpy(re->classes, p->classes, (size_t)p->nc * 32);
    free(p);
    return re;
bad:
    free(p);
    free(prog);
    free(re);
    return NULL;
}

void
st_jre_free(struct st_jre *re)
{
    if (re == NULL)
        return;
    free(re->prog);
    free(re->classes);
    free(re);
}

int
st_jre_groups(const struct st_jre *re)
{
    return re->groups;
}

/* ---------------------------------------------------------------- matching */

struct vm {
    const struct st_jre *re;                  /* program */
    const char *s;                            /* subject */
    size_t len;                               /* its length */
    bool full;                                /* must end at len (matches()) */
    size_t caps[2 * (ST_JRE_MAX_GROUPS + 1)]; /* capture slots */
    size_t marks[MAX_LOOPS];                  /* loop registers */
    long steps;                               /* steps used */
    long limit;                               /* steps allowed */
    int depth;                                /* recursion depth */
    bool overflow;                            /* budget exhausted */
    size_t end;                               /* match end on success */
};

static bool
at_eol(const struct vm *vm, size_t pos)
{
    size_t n = vm->len;
    if (pos == n)
        return true;
    if (pos + 1 == n)
        return vm->s[pos] == '\n' || vm->s[pos] == '\r';
    return pos + 2 == n && vm->s[pos] == '\r' && vm->s[pos + 1] == '\n';
}

static int
run(struct vm *vm, int pc, size_t pos)
{
    if (++vm->depth > MAX_DEPTH) {
        vm->overflow = true;
        vm->depth--;
        return 0;
    }
    int result = 0;
    for (;;) {
        if (++vm->steps > vm->limit) {
            vm->overflow = true;
            break;
        }
        const struct inst *in = &vm->re->prog[pc];
        switch ((enum op)in->op) {
        case OP_BYTE:
            if (pos < vm->len && (uint8_t)vm->s[pos] == in->byte) {
                pos++;
                pc++;
                continue;
            }
            goto out;
        case OP_ANY:
            if (pos < vm->len && vm->s[pos] != '\n' && vm->s[pos] != '\r') {
                pos++;
                pc++;
                continue;
            }
            goto out;
        case OP_CLASS:
            if (pos < vm->len && cls_has(vm->re->classes[in->x], (uint8_t)vm->s[pos])) {
                pos++;
                pc++;
                continue;
            }
            goto out;
        case OP_BOL:
            if (pos != 0)
                goto out;
            pc++;
            continue;
        case OP_EOL:
            if (!at_eol(vm, pos))
                goto out;
            pc++;
            continue;
        case OP_JMP:
            pc = in->x;
            continue;
        case OP_SPLIT:
            if (run(vm, in->x, pos)) {
                result = 1;
                goto out;
            }
            if (vm->overflow)
                goto out;
            pc = in->y;
            continue;
        case OP_SAVE:
        case OP_MARK: {
            size_t *slot = in->op == OP_SAVE ? &vm->caps[in->x] : &vm->marks[in->x];
            size_t old = *slot;
            *slot = pos;
            if (run(vm, pc + 1, pos)) {
                result = 1;
                goto out;
            }
            *slot = old;
            goto out;
        }
        case OP_PROGRESS:
            /* Java's Loop: an empty iteration is accepted once, then the loop is left (skip
             * the JMP back) instead of iterating again. */
            pc += vm->marks[in->x] == pos ? 2 : 1;
            continue;
        case OP_MATCH:
            if (vm->full && pos != vm->len)
                goto out;
            vm->end = pos;
            result = 1;
            goto out;
        }
    }
out:
    vm->depth--;
    return result;
}

/* Tries a match starting exactly at `start`. */
static int
match_at(struct vm *vm, size_t start)
{
    for (size_t i = 0; i < sizeof(vm->caps) / sizeof(vm->caps[0]); i++)
        vm->caps[i] = NONE;
    vm->depth = 0;
    if (!run(vm, 0, start))
        return 0;
    vm->caps[0] = start;
    vm->caps[1] = vm->end;
    return 1;
}

static void
vm_init(struct vm *vm, const struct st_jre *re, const char *s, size_t len, bool full,
        const long *budget)
{
    memset(vm, 0, sizeof(*vm));
    vm->re = re;
    vm->s = s;
    vm->len = len;
    vm->full = full;
    vm->limit = budget != NULL ? *budget : ST_JRE_DEFAULT_BUDGET;
}

static void
vm_charge(const struct vm *vm, long *budget)
{
    if (budget != NULL)
        *budget = vm->steps >= *budget ? 0 : *budget - vm->steps;
}

int
st_jre_matches(const struct st_jre *re, const char *s, size_t len, long *budget, const char **err)
{
    struct vm vm;
    vm_init(&vm, re, s, len, true, budget);
    int m = match_at(&vm, 0);
    vm_charge(&vm, budget);
    if (vm.overflow) {
        *err = "regex: match budget exhausted";
        return -1;
    }
    return m;
}

/* Appends the Java replacement for the current match. */
static int
expand(const struct vm *vm, const char *rep, struct st_buf *out, const char **err)
{
    int groups = vm->re->groups;
    for (size_t i = 0; rep[i] != '\0'; i++) {
        char c = rep[i];
        if (c == '\\') {
            i++;
            if (rep[i] == '\0') {
                *err = "replacement: character to be escaped is missing";
                return -1;
            }
            if (st_buf_append_u8(out, (uint8_t)rep[i]) != 0)
                goto oom;
        } else if (c == '$') {
            i++;
            if (rep[i] < '0' || rep[i] > '9') {
                *err = "replacement: illegal group reference";
                return -1;
            }
            int g = rep[i] - '0';
            if (g > groups) {
                *err = "replacement: no such group";
                return -1;
            }
            while (rep[i + 1] >= '0' && rep[i + 1] <= '9') {
                int ng = g * 10 + (rep[i + 1] - '0');
                if (ng > groups)
                    break;
                g = ng;
                i++;
            }
            size_t s = vm->caps[2 * g], e = vm->caps[2 * g + 1];
            if (s != NONE && e != NONE && e >= s && st_buf_append(out, vm->s + s, e - s) != 0)
                goto oom;
        } else if (st_buf_append_u8(out, (uint8_t)c) != 0) {
            goto oom;
        }
    }
    return 0;
oom:
    *err = "out of memory";
    return -1;
}

int
st_jre_replace_all(const struct st_jre *re, const char *s, size_t len, const char *replacement,
                   long *budget, struct st_buf *out, const char **err)
{
    struct vm vm;
    vm_init(&vm, re, s, len, false, budget);
    size_t from = 0, appended = 0;
    while (from <= len) {
        size_t st = from;
        bool found = false;
        for (; st <= len; st++) {
            if (match_at(&vm, st)) {
                found = true;
                break;
            }
            if (vm.overflow)
                break;
        }
        if (vm.overflow) {
            vm_charge(&vm, budget);
            *err = "regex: match budget exhausted";
            return -1;
        }
        if (!found)
            break;
        size_t ms = vm.caps[0], me = vm.caps[1];
        if (st_buf_append(out, s + appended, ms - appended) != 0) {
            *err = "out of memory";
            return -1;
        }
        if (expand(&vm, replacement, out, err) != 0)
            return -1;
        appended = me;
        from = me == ms ? me + 1 : me;
    }
    vm_charge(&vm, budget);
    if (st_buf_append(out, s + appended, len - appended) != 0) {
        *err = "out of memory";
        return -1;
    }
    return 0;
}
