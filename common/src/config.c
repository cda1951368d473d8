/* config.c - the shared YAML configuration (msgsec_config.h).
 *
 * Two passes. libyaml events become a small tree of nodes that keep their
 * line (aliases refused, duplicate keys refused, depth and size bounded);
 * then schema tables (one row per key) apply the tree to a msgsec_config and
 * each section's check function enforces what a row cannot express. The same
 * tables free the result, so a new key is one row, not three edits.
 *
 * Every refusal is MSGSEC_E_USAGE with "FILE:LINE: reason". Relative paths
 * are resolved against the directory of the configuration file; files the
 * configuration names must be readable regular files at load time, and
 * private keys must not be accessible by group or others.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <yaml.h>

#include "internal.h"
#include "msgsec_config.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_DEPTH 16
#define CONFIG_MAX_KEYS                                                                            \
    256              /* per mapping: more than any section has; keeps duplicate checks cheap */
#define NAME_LEN 128 /* dotted key names in messages ("mqtt.tls.key") */
#define TEN_YEARS 315360000LL

/* ------------------------------------------------------------ node tree */

typedef enum node_kind { N_SCALAR, N_SEQ, N_MAP } node_kind;

typedef struct node {
    node_kind kind;
    int line;
    int plain;           /* scalar written without quotes (may be null, number, bool) */
    char *value;         /* scalar text */
    struct node **items; /* seq: elements; map: key0, value0, key1, value1, ... */
    size_t n, cap;
} node;

typedef struct loader {
    const char *name; /* the path as given, for messages */
    char *dir;        /* absolute directory of the file, for relative paths */
    msgsec_error *err;
    yaml_parser_t parser;
} loader;

static msgsec_err fail(loader *ld, int line, const char *fmt, ...) MSGSEC_PRINTF(3, 4);

static msgsec_err fail(loader *ld, int line, const char *fmt, ...)
{
    char reason[MSGSEC_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return msgsec_seterr(ld->err, MSGSEC_E_USAGE, "%s:%d: %s", ld->name, line, reason);
}

static void node_free(node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

static int node_append(node *parent, node *child)
{
    if (grow_array(&parent->items, &parent->cap, parent->n + 1, sizeof *parent->items, 8))
        return -1;
    parent->items[parent->n++] = child;
    return 0;
}

static int is_null(const node *n)
{
    return n->kind == N_SCALAR && n->plain &&
           (n->value[0] == '\0' || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
            strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0);
}

static msgsec_err syntax_error(loader *ld)
{
    const yaml_parser_t *p = &ld->parser;
    return fail(ld, (int)p->problem_mark.line + 1, "YAML syntax error: %s%s%s",
                p->problem ? p->problem : "unknown problem", p->context ? " " : "",
                p->context ? p->context : "");
}

static msgsec_err next_event(loader *ld, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&ld->parser, ev))
        return syntax_error(ld);
    return MSGSEC_OK;
}

/* A mapping key must be a scalar that does not repeat an earlier key. */
static msgsec_err check_new_key(loader *ld, const node *map, const node *key)
{
    if (key->kind != N_SCALAR)
        return fail(ld, key->line, "mapping keys must be plain strings");
    if (map->n / 2 >= CONFIG_MAX_KEYS)
        return fail(ld, key->line, "more than %d keys in one mapping", CONFIG_MAX_KEYS);
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->value, key->value) == 0)
            return fail(ld, key->line, "duplicate key '%s' (first at line %d)", key->value,
                        map->items[i]->line);
    return MSGSEC_OK;
}

/* Builds the node that ev starts (ev is consumed). */
static msgsec_err build_node(loader *ld, yaml_event_t *ev, int depth, node **out)
{
    msgsec_err rc = MSGSEC_OK;
    yaml_event_type_t end;
    node *n = calloc(1, sizeof *n);
    *out = NULL;
    if (!n) {
        yaml_event_delete(ev);
        return msgsec_seterr(ld->err, MSGSEC_E_INTERNAL, "out of memory");
    }
    n->line = (int)ev->start_mark.line + 1;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n->kind = N_SCALAR;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
            rc = fail(ld, n->line, "NUL character in a value");
        else if (!(n->value = strdup((const char *)ev->data.scalar.value)))
            rc = msgsec_seterr(ld->err, MSGSEC_E_INTERNAL, "out of memory");
        yaml_event_delete(ev);
        goto done;
    case YAML_SEQUENCE_START_EVENT:
        n->kind = N_SEQ;
        end = YAML_SEQUENCE_END_EVENT;
        break;
    case YAML_MAPPING_START_EVENT:
        n->kind = N_MAP;
        end = YAML_MAPPING_END_EVENT;
        break;
    case YAML_ALIAS_EVENT:
        rc = fail(ld, n->line, "YAML aliases (*name) are not supported");
        yaml_event_delete(ev);
        goto done;
    default:
        rc = fail(ld, n->line, "unexpected YAML construct");
        yaml_event_delete(ev);
        goto done;
    }
    yaml_event_delete(ev);
    if (depth >= CONFIG_MAX_DEPTH) {
        rc = fail(ld, n->line, "nested more than %d levels deep", CONFIG_MAX_DEPTH);
        goto done;
    }
    for (;;) {
        yaml_event_t child_ev;
        node *child;
        if ((rc = next_event(ld, &child_ev)) != MSGSEC_OK)
            goto done;
        if (child_ev.type == end) {
            yaml_event_delete(&child_ev);
            break;
        }
        if ((rc = build_node(ld, &child_ev, depth + 1, &child)) != MSGSEC_OK)
            goto done;
        if (n->kind == N_MAP && n->n % 2 == 0 && (rc = check_new_key(ld, n, child)) != MSGSEC_OK) {
            node_free(child);
            goto done;
        }
        if (node_append(n, child) != 0) {
            node_free(child);
            rc = msgsec_seterr(ld->err, MSGSEC_E_INTERNAL, "out of memory");
            goto done;
        }
    }
done:
    if (rc != MSGSEC_OK)
        node_free(n);
    else
        *out = n;
    return rc;
}

/* Parses exactly one YAML document whose root is a mapping. */
static msgsec_err parse_tree(loader *ld, const uint8_t *text, size_t len, node **root)
{
    yaml_event_t ev;
    msgsec_err rc;
    *root = NULL;
    yaml_parser_set_input_string(&ld->parser, text, len);
    if ((rc = next_event(ld, &ev)) != MSGSEC_OK) /* stream start */
        return rc;
    yaml_event_delete(&ev);
    if ((rc = next_event(ld, &ev)) != MSGSEC_OK)
        return rc;
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
        yaml_event_delete(&ev);
        return fail(ld, 1, "the configuration is empty");
    }
    yaml_event_delete(&ev);
    if ((rc = next_event(ld, &ev)) != MSGSEC_OK)
        return rc;
    if ((rc = build_node(ld, &ev, 0, root)) != MSGSEC_OK)
        return rc;
    if ((*root)->kind != N_MAP) {
        rc = is_null(*root) ? fail(ld, (*root)->line, "the configuration is empty")
                            : fail(ld, (*root)->line, "the configuration must be a mapping");
        goto cleanup;
    }
    if ((rc = next_event(ld, &ev)) != MSGSEC_OK) /* document end */
        goto cleanup;
    yaml_event_delete(&ev);
    if ((rc = next_event(ld, &ev)) != MSGSEC_OK)
        goto cleanup;
    if (ev.type != YAML_STREAM_END_EVENT)
        rc = fail(ld, (int)ev.start_mark.line + 1, "only one YAML document is allowed");
    yaml_event_delete(&ev);
cleanup:
    if (rc != MSGSEC_OK) {
        node_free(*root);
        *root = NULL;
    }
    return rc;
}

/* The key node of `key` in map, or NULL. */
static const node *map_key(const node *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

/* The value node of `key` in map, or NULL. */
static const node *map_value(const node *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->value, key) == 0)
            return map->items[i + 1];
    return NULL;
}

/* Line of `key` in map, or of the map itself when the key is absent. */
static int key_line(const node *map, const char *key)
{
    const node *k = map_key(map, key);
    return k ? k->line : map->line;
}

/* ------------------------------------------------------------ schema */

typedef enum field_type {
    F_STR,     /* char * */
    F_CHOICE,  /* char *, one of names */
    F_ENUM,    /* enum stored as int: index in names */
    F_PATH,    /* char *, a readable regular file */
    F_KEY,     /* char *, F_PATH that group/others cannot access */
    F_NEWPATH, /* char *, resolved but may not exist yet (created by its user) */
    F_PATHS,   /* char ** + size_t count, each an F_PATH */
    F_STRS,    /* char ** + size_t count */
    F_LONG,    /* long in min..max */
    F_INT,     /* int in min..max */
    F_SIZE,    /* size_t in min..max */
    F_BOOL,    /* int 0/1 */
    F_CREDS,   /* unsigned MSGSEC_CRED_BIT mask from a list of names */
    F_MAP,     /* nested section at base + off */
    F_SEQMAP   /* array of sub->elem_size structs + size_t count */
} field_type;

typedef struct schema schema;

typedef struct field {
    const char *key;
    field_type type;
    size_t off;
    size_t count_off;
    long long min, max;
    const char *const *names;
    const schema *sub;
    int required;
} field;

struct schema {
    const field *fields; /* terminated by a row with key NULL */
    size_t elem_size;    /* F_SEQMAP element size */
    void (*init)(void *obj);
    /* section checks beyond one key; prefix is the section's name + "." */
    msgsec_err (*check)(loader *ld, const node *map, void *obj, const char *prefix);
};

_Static_assert(sizeof(msgsec_rule_action) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(msgsec_route_action) == sizeof(int), "enums are stored as int");

#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))

static char *resolve_path(loader *ld, const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    size_t len = strlen(ld->dir) + strlen(path) + 2;
    char *full = malloc(len);
    if (full)
        snprintf(full, len, "%s/%s", ld->dir, path);
    return full;
}

/* A file the configuration names must be a readable regular file now. */
static msgsec_err check_file(loader *ld, int line, const char *name, const char *path, int key)
{
    msgsec_error detail;
    struct stat st;
    msgsec_err rc = MSGSEC_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(ld, line, "%s: cannot read %s: %s", name, path, strerror(errno));
    if (key) {
        if (check_private_key_mode(fd, path, &detail) != MSGSEC_OK)
            rc = fail(ld, line, "%s: %s", name, detail.detail);
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fail(ld, line, "%s: %s is not a regular file", name, path);
    } else if (st.st_mode & S_IWOTH) { /* anyone could swap the trust anchor or user store */
        rc = fail(ld, line, "%s: %s is writable by others (mode %03o); chmod o-w it", name, path,
                  (unsigned)(st.st_mode & 0777));
    }
    close(fd);
    return rc;
}

static msgsec_err oom(loader *ld)
{
    return msgsec_seterr(ld->err, MSGSEC_E_INTERNAL, "out of memory");
}

static msgsec_err want_scalar(loader *ld, const node *v, const char *name, const char *what)
{
    if (v->kind != N_SCALAR)
        return fail(ld, v->line, "%s: expected %s, got a %s", name, what,
                    v->kind == N_MAP ? "mapping" : "list");
    return MSGSEC_OK;
}

/* Stores a string field from a scalar: F_STR, F_CHOICE and the path types. */
static msgsec_err set_string(loader *ld, const field *f, const node *v, const char *name,
                             char **slot)
{
    msgsec_err rc = want_scalar(ld, v, name, "a string");
    char *s;
    if (rc != MSGSEC_OK)
        return rc;
    if (v->value[0] == '\0')
        return fail(ld, v->line, "%s: must not be empty", name);
    if (f->type == F_CHOICE) {
        size_t i = 0;
        while (f->names[i] && strcmp(f->names[i], v->value) != 0)
            i++;
        if (!f->names[i])
            return fail(ld, v->line, "%s: unknown value '%.40s'", name, v->value);
    }
    int is_path =
        f->type == F_PATH || f->type == F_KEY || f->type == F_NEWPATH || f->type == F_PATHS;
    s = is_path ? resolve_path(ld, v->value) : strdup(v->value);
    if (!s)
        return oom(ld);
    if (is_path && f->type != F_NEWPATH &&
        (rc = check_file(ld, v->line, name, s, f->type == F_KEY)) != MSGSEC_OK) {
        free(s);
        return rc;
    }
    free(*slot);
    *slot = s;
    return MSGSEC_OK;
}

static msgsec_err parse_integer(loader *ld, const field *f, const node *v, const char *name,
                                long long *out)
{
    const char *s = v->value;
    char *end;
    if (v->kind != N_SCALAR || !v->plain || !((s[0] >= '0' && s[0] <= '9') || s[0] == '-'))
        goto bad;
    errno = 0;
    *out = strtoll(s, &end, 10);
    if (*end != '\0' || end == s)
        goto bad;
    if (errno == ERANGE || *out < f->min || *out > f->max)
        return fail(ld, v->line, "%s: %.40s is out of range %lld..%lld", name, s, f->min, f->max);
    return MSGSEC_OK;
bad:
    return fail(ld, v->line, "%s: expected an integer in %lld..%lld", name, f->min, f->max);
}

static msgsec_err apply_map(loader *ld, const schema *s, const node *map, void *base,
                            const char *prefix);

static msgsec_err apply_list(loader *ld, const field *f, const node *v, const char *name,
                             void *base)
{
    msgsec_err rc;
    if (v->kind != N_SEQ)
        return fail(ld, v->line, "%s: expected a list", name);
    if (f->type == F_CREDS) {
        unsigned mask = 0;
        for (size_t i = 0; i < v->n; i++) {
            msgsec_credential cred;
            const node *item = v->items[i];
            if ((rc = want_scalar(ld, item, name, "a credential type")) != MSGSEC_OK)
                return rc;
            if (msgsec_credential_parse(item->value, &cred) != MSGSEC_OK)
                return fail(ld, item->line,
                            "%s: unknown credential type '%.40s' (none, certificate, username, "
                            "windows, issued)",
                            name, item->value);
            mask |= MSGSEC_CRED_BIT(cred);
        }
        if (!mask)
            return fail(ld, v->line, "%s: the list is empty: no message would be accepted", name);
        *AT(base, f->off, unsigned) = mask;
        return MSGSEC_OK;
    }
    if (f->type == F_SEQMAP) {
        void *elems = v->n ? calloc(v->n, f->sub->elem_size) : NULL;
        if (v->n && !elems)
            return oom(ld);
        *AT(base, f->off, void *) = elems;
        *AT(base, f->count_off, size_t) = v->n;
        for (size_t i = 0; i < v->n; i++) {
            char sub[NAME_LEN];
            void *elem = (char *)elems + i * f->sub->elem_size;
            snprintf(sub, sizeof sub, "%.64s[%zu].", name, i);
            if (f->sub->init)
                f->sub->init(elem);
            if (v->items[i]->kind != N_MAP)
                return fail(ld, v->items[i]->line, "%s[%zu]: expected a mapping", name, i);
            if ((rc = apply_map(ld, f->sub, v->items[i], elem, sub)) != MSGSEC_OK)
                return rc;
        }
        return MSGSEC_OK;
    }
    /* F_PATHS, F_STRS */
    if (f->type == F_STRS && v->n == 0) /* senders: [] reads as "nobody", yet means "anyone" */
        return fail(ld, v->line, "%s: the list is empty; omit the key to allow any trusted sender",
                    name);
    char **list = v->n ? calloc(v->n, sizeof *list) : NULL;
    if (v->n && !list)
        return oom(ld);
    *AT(base, f->off, char **) = list;
    *AT(base, f->count_off, size_t) = v->n;
    for (size_t i = 0; i < v->n; i++)
        if ((rc = set_string(ld, f, v->items[i], name, &list[i])) != MSGSEC_OK)
            return rc;
    return MSGSEC_OK;
}

static msgsec_err apply_field(loader *ld, const field *f, const node *v, const char *name,
                              void *base)
{
    long long num = 0;
    msgsec_err rc;
    switch (f->type) {
    case F_STR:
    case F_CHOICE:
    case F_PATH:
    case F_KEY:
    case F_NEWPATH:
        return set_string(ld, f, v, name, AT(base, f->off, char *));
    case F_ENUM:
        if ((rc = want_scalar(ld, v, name, "a string")) != MSGSEC_OK)
            return rc;
        for (int i = 0; f->names[i]; i++) {
            if (strcmp(f->names[i], v->value) == 0) {
                *AT(base, f->off, int) = i;
                return MSGSEC_OK;
            }
        }
        return fail(ld, v->line, "%s: unknown value '%.40s'", name, v->value);
    case F_LONG:
    case F_INT:
    case F_SIZE:
        if ((rc = parse_integer(ld, f, v, name, &num)) != MSGSEC_OK)
            return rc;
        if (f->type == F_LONG)
            *AT(base, f->off, long) = (long)num;
        else if (f->type == F_INT)
            *AT(base, f->off, int) = (int)num;
        else
            *AT(base, f->off, size_t) = (size_t)num;
        return MSGSEC_OK;
    case F_BOOL:
        if (v->kind == N_SCALAR && v->plain &&
            (strcasecmp(v->value, "true") == 0 || strcasecmp(v->value, "yes") == 0)) {
            *AT(base, f->off, int) = 1;
            return MSGSEC_OK;
        }
        if (v->kind == N_SCALAR && v->plain &&
            (strcasecmp(v->value, "false") == 0 || strcasecmp(v->value, "no") == 0)) {
            *AT(base, f->off, int) = 0;
            return MSGSEC_OK;
        }
        return fail(ld, v->line, "%s: expected true or false", name);
    case F_MAP: {
        char sub[NAME_LEN];
        if (v->kind != N_MAP)
            return fail(ld, v->line, "%s: expected a mapping", name);
        snprintf(sub, sizeof sub, "%.64s.", name);
        return apply_map(ld, f->sub, v, AT(base, f->off, char), sub);
    }
    case F_PATHS:
    case F_STRS:
    case F_CREDS:
    case F_SEQMAP:
        return apply_list(ld, f, v, name, base);
    }
    return msgsec_seterr(ld->err, MSGSEC_E_INTERNAL, "bad schema");
}

static msgsec_err apply_map(loader *ld, const schema *s, const node *map, void *base,
                            const char *prefix)
{
    msgsec_err rc;
    char name[NAME_LEN];
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const node *key = map->items[i], *value = map->items[i + 1];
        const field *f = s->fields;
        while (f->key && strcmp(f->key, key->value) != 0)
            f++;
        snprintf(name, sizeof name, "%.80s%.40s", prefix, key->value);
        if (!f->key)
            return fail(ld, key->line, "unknown key '%.60s'", name);
        if (is_null(value))
            continue;
        /* a block list or mapping starts below its key: errors about the
         * whole value (and a section's missing keys) are reported at the key */
        node located = *value;
        if (value->kind != N_SCALAR)
            located.line = key->line;
        if ((rc = apply_field(ld, f, &located, name, base)) != MSGSEC_OK)
            return rc;
    }
    for (const field *f = s->fields; f->key; f++) {
        const node *v = map_value(map, f->key);
        if (f->required && (!v || is_null(v)))
            return fail(ld, map->line, "missing %s%s", prefix, f->key);
    }
    return s->check ? s->check(ld, map, base, prefix) : MSGSEC_OK;
}

/* ------------------------------------------------------------ checks */

/* 1 if word is one of the space-separated words of list. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Refuses keys that make no sense for the entry's action (a publish_to on an
 * enforce rule is a mistake the user must hear about, not a silent no-op). */
static msgsec_err check_action_keys(loader *ld, const node *map, const char *common,
                                    const char *allowed, const char *action)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const char *key = map->items[i]->value;
        if (!has_word(common, key) && !has_word(allowed, key) && !is_null(map->items[i + 1]))
            return fail(ld, map->items[i]->line, "%s is not valid with action %s", key, action);
    }
    return MSGSEC_OK;
}

/* MQTT 3.1.1 section 4.7: '+' and '#' fill a whole level, '#' only the last. */
static int valid_topic_filter(const char *filter)
{
    if (!*filter || strlen(filter) > 65535)
        return 0;
    for (const char *p = filter; *p; p++) {
        int whole_level = (p == filter || p[-1] == '/') && (p[1] == '/' || p[1] == '\0');
        if ((*p == '+' && !whole_level) || (*p == '#' && !(whole_level && p[1] == '\0')))
            return 0;
    }
    return 1;
}

static int valid_topic_name(const char *topic)
{
    return *topic && strlen(topic) <= 65535 && !strpbrk(topic, "+#");
}

typedef enum endpoint_proto { EP_MQTT, EP_AMQP } endpoint_proto;

/* "mqtt:FILTER" (a topic name unless source) or "amqp:ADDRESS". */
static msgsec_err check_endpoint(loader *ld, const node *map, const char *key, const char *value,
                                 int source, endpoint_proto *proto)
{
    int line = key_line(map, key);
    if (strncmp(value, "mqtt:", 5) == 0) {
        if (source ? !valid_topic_filter(value + 5) : !valid_topic_name(value + 5))
            return fail(ld, line, "%s: '%.60s' is not a valid MQTT topic %s", key, value,
                        source ? "filter" : "name (no wildcards)");
        *proto = EP_MQTT;
        return MSGSEC_OK;
    }
    if (strncmp(value, "amqp:", 5) == 0) {
        if (value[5] == '\0')
            return fail(ld, line, "%s: empty AMQP address", key);
        *proto = EP_AMQP;
        return MSGSEC_OK;
    }
    return fail(ld, line, "%s: '%.60s' must start with mqtt: or amqp:", key, value);
}

static const char *const rule_actions[] = {"enforce", "protect", "pass", NULL};
static const char *const route_actions[] = {"forward", "verify", "protect", "unprotect", NULL};

static msgsec_err check_rule(loader *ld, const node *map, void *obj, const char *prefix)
{
    static const char *const allowed[] = {
        [MSGSEC_RULE_ENFORCE] = "senders bind_transport",
        [MSGSEC_RULE_PROTECT] = "service_cert publish_to to",
        [MSGSEC_RULE_PASS] = "",
    };
    msgsec_rule *rule = obj;
    msgsec_err rc;
    rule->line = map->line;
    if (!valid_topic_filter(rule->topic))
        return fail(ld, key_line(map, "topic"), "topic: '%.60s' is not a valid MQTT topic filter",
                    rule->topic);
    rc = check_action_keys(ld, map, "topic action", allowed[rule->action],
                           rule_actions[rule->action]);
    if (rc != MSGSEC_OK)
        return rc;
    if (rule->action == MSGSEC_RULE_PROTECT) {
        if (!rule->service_cert || !rule->publish_to)
            return fail(ld, map->line, "a protect rule needs service_cert and publish_to");
        if (!valid_topic_name(rule->publish_to))
            return fail(ld, key_line(map, "publish_to"),
                        "publish_to: '%.60s' is not a valid MQTT topic name (no wildcards)",
                        rule->publish_to);
    }
    return MSGSEC_OK;
}

static void init_route(void *obj) { ((msgsec_route *)obj)->qos = 1; }

static msgsec_err check_route(loader *ld, const node *map, void *obj, const char *prefix)
{
    static const char *const allowed[] = {
        [MSGSEC_ROUTE_FORWARD] = "",
        [MSGSEC_ROUTE_VERIFY] = "senders",
        [MSGSEC_ROUTE_PROTECT] = "service_cert wsa_to",
        [MSGSEC_ROUTE_UNPROTECT] = "senders",
    };
    msgsec_route *route = obj;
    endpoint_proto from, to, dead;
    msgsec_err rc;
    route->line = map->line;
    if ((rc = check_action_keys(ld, map, "from to action qos dead_letter", allowed[route->action],
                                route_actions[route->action])) != MSGSEC_OK ||
        (rc = check_endpoint(ld, map, "from", route->from, 1, &from)) != MSGSEC_OK ||
        (rc = check_endpoint(ld, map, "to", route->to, 0, &to)) != MSGSEC_OK ||
        (route->dead_letter &&
         (rc = check_endpoint(ld, map, "dead_letter", route->dead_letter, 0, &dead)) != MSGSEC_OK))
        return rc;
    if (from == to)
        return fail(ld, key_line(map, "to"),
                    "a route joins MQTT and AMQP, but from and to are both %s addresses",
                    from == EP_MQTT ? "mqtt:" : "amqp:");
    if (route->action == MSGSEC_ROUTE_PROTECT && !route->service_cert)
        return fail(ld, map->line, "a protect route needs service_cert");
    return MSGSEC_OK;
}

static msgsec_err check_tls(loader *ld, const node *map, void *obj, const char *prefix)
{
    const msgsec_tls_config *tls = obj;
    if (!tls->cert != !tls->key)
        return fail(ld, map->line, "%scert and %skey must be given together", prefix, prefix);
    return MSGSEC_OK;
}

static msgsec_err check_identity(loader *ld, const node *map, void *obj, const char *prefix)
{
    const msgsec_config *cfg = obj;
    if (!cfg->identity.cert != !cfg->identity.key)
        return fail(ld, map->line, "identity.cert and identity.key must be given together");
    return MSGSEC_OK;
}

static msgsec_err check_security(loader *ld, const node *map, void *obj, const char *prefix)
{
    const msgsec_config *cfg = obj;
    if (cfg->security.clock_skew > cfg->security.max_age)
        return fail(ld, key_line(map, "clock_skew"),
                    "security.clock_skew (%ld) must not exceed security.max_age (%ld)",
                    cfg->security.clock_skew, cfg->security.max_age);
    if (cfg->security.ticket_grace > cfg->security.max_age)
        return fail(ld, key_line(map, "ticket_grace"),
                    "security.ticket_grace (%ld) must not exceed security.max_age (%ld)",
                    cfg->security.ticket_grace, cfg->security.max_age);
    return MSGSEC_OK;
}

static msgsec_err check_mqtt(loader *ld, const node *map, void *obj, const char *prefix)
{
    const msgsec_config *cfg = obj;
    if (cfg->mqtt.password_file && !cfg->mqtt.username)
        return fail(ld, key_line(map, "password_file"), "mqtt.password_file needs mqtt.username");
    return MSGSEC_OK;
}

static msgsec_err check_amqp(loader *ld, const node *map, void *obj, const char *prefix)
{
    const msgsec_config *cfg = obj;
    const char *url = cfg->amqp.url, *mech = cfg->amqp.sasl.mechanism;
    int plain = strcmp(mech, "PLAIN") == 0;
    if (!((strncmp(url, "amqp://", 7) == 0 && url[7]) ||
          (strncmp(url, "amqps://", 8) == 0 && url[8])))
        return fail(ld, key_line(map, "url"),
                    "amqp.url: '%.60s' must be amqp://HOST[:PORT] or amqps://...", url);
    if (plain && (!cfg->amqp.sasl.username || !cfg->amqp.sasl.password_file))
        return fail(ld, key_line(map, "sasl"), "amqp.sasl: PLAIN needs username and password_file");
    if (!plain && (cfg->amqp.sasl.username || cfg->amqp.sasl.password_file))
        return fail(ld, key_line(map, "sasl"),
                    "amqp.sasl: username and password_file are only used with PLAIN");
    if (strcmp(mech, "EXTERNAL") == 0 && !cfg->amqp.tls.cert)
        return fail(ld, key_line(map, "sasl"),
                    "amqp.sasl: EXTERNAL needs amqp.tls.cert and amqp.tls.key");
    return MSGSEC_OK;
}

/* Parses "IPV4:PORT" or "[IPV6]:PORT" (numeric addresses: a listener binds
 * to an interface, and a name such as localhost may stand for either family;
 * port 1..65535) into *addr and *len. Returns 0, or -1 when malformed. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN];
    const char *colon = strrchr(listen, ':'), *start = listen, *end = colon;
    const int v6 = listen[0] == '[';
    if (v6) {
        start = listen + 1;
        end = colon && colon > listen && colon[-1] == ']' ? colon - 1 : NULL;
    }
    if (!end || end <= start || (size_t)(end - start) >= sizeof host || !colon[1] ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5)
        return -1;
    long port = strtol(colon + 1, NULL, 10);
    if (port < 1 || port > 65535)
        return -1;
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    memset(addr, 0, sizeof *addr);
    if (v6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof *in4;
    return inet_pton(AF_INET, host, &in4->sin_addr) == 1 ? 0 : -1;
}

static msgsec_err check_metrics(loader *ld, const node *map, void *obj, const char *prefix)
{
    msgsec_config *cfg = obj;
    if (!cfg->metrics.listen ||
        parse_listen(cfg->metrics.listen, &cfg->metrics.address, &cfg->metrics.address_len) == 0)
        return MSGSEC_OK;
    return fail(ld, key_line(map, "listen"),
                "metrics.listen: '%.60s' must be IPV4:PORT or [IPV6]:PORT (port 1..65535)",
                cfg->metrics.listen);
}

static const char *article(const char *word) { return strchr("aeiou", word[0]) ? "an" : "a"; }

/* What needs more than one section: the node identity for protect and
 * unprotect, and the trust material for the credentials a receiver accepts. */
static msgsec_err check_config(loader *ld, const node *map, void *obj, const char *prefix)
{
    msgsec_config *cfg = obj;
    /* default: certificate, and issued when there are issuers to trust (an
       issued token could never verify without them) */
    if (!cfg->security.credentials)
        cfg->security.credentials = MSGSEC_CRED_BIT(MSGSEC_CRED_CERTIFICATE) |
                                    (cfg->trust.n_issuers ? MSGSEC_CRED_BIT(MSGSEC_CRED_ISSUED) : 0);
    const unsigned creds = cfg->security.credentials;
    const int issued_untrusted = (creds & MSGSEC_CRED_BIT(MSGSEC_CRED_ISSUED)) && !cfg->trust.n_issuers;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const msgsec_rule *rule = &cfg->rules[i];
        if (rule->action == MSGSEC_RULE_PROTECT && !cfg->identity.cert)
            return fail(ld, rule->line, "a protect rule needs identity.cert and identity.key");
        if (rule->action == MSGSEC_RULE_ENFORCE &&
            (creds & MSGSEC_CRED_BIT(MSGSEC_CRED_CERTIFICATE)) && !cfg->trust.n_ca)
            return fail(ld, rule->line,
                        "an enforce rule accepting certificate credentials needs trust.ca");
        if (rule->action == MSGSEC_RULE_ENFORCE && issued_untrusted)
            return fail(ld, rule->line, "an enforce rule accepting issued credentials needs trust.issuers");
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const msgsec_route *route = &cfg->routes[i];
        const char *action = route_actions[route->action];
        int checks =
            route->action == MSGSEC_ROUTE_VERIFY || route->action == MSGSEC_ROUTE_UNPROTECT;
        if ((route->action == MSGSEC_ROUTE_PROTECT || route->action == MSGSEC_ROUTE_UNPROTECT) &&
            !cfg->identity.cert)
            return fail(ld, route->line, "%s %s route needs identity.cert and identity.key",
                        article(action), action);
        if (checks && (creds & MSGSEC_CRED_BIT(MSGSEC_CRED_CERTIFICATE)) && !cfg->trust.n_ca)
            return fail(ld, route->line,
                        "%s %s route accepting certificate credentials needs trust.ca",
                        article(action), action);
        if (checks && issued_untrusted)
            return fail(ld, route->line, "%s %s route accepting issued credentials needs trust.issuers",
                        article(action), action);
        if (route->action != MSGSEC_ROUTE_UNPROTECT)
            continue;
        if ((creds & MSGSEC_CRED_BIT(MSGSEC_CRED_USERNAME)) && !cfg->trust.users)
            return fail(ld, route->line,
                        "an unprotect route accepting username credentials needs trust.users");
        if ((creds & MSGSEC_CRED_BIT(MSGSEC_CRED_WINDOWS)) && !cfg->trust.keytab)
            return fail(ld, route->line,
                        "an unprotect route accepting windows credentials needs trust.keytab");
    }
    return MSGSEC_OK;
}

/* ------------------------------------------------------------ schema tables */

/* clang-format off */
#define FIELD(k, t, o) {.key = (k), .type = (t), .off = (o)}
#define NEEDED(k, t, o) {.key = (k), .type = (t), .off = (o), .required = 1}
#define NUMBER(k, t, o, lo, hi) {.key = (k), .type = (t), .off = (o), .min = (lo), .max = (hi)}
#define LIST(k, t, o, c) {.key = (k), .type = (t), .off = (o), .count_off = (c)}
#define ONE_OF(k, t, o, n, req) {.key = (k), .type = (t), .off = (o), .names = (n), .required = (req)}
#define SECTION(k, o, s) {.key = (k), .type = F_MAP, .off = (o), .sub = (s)}
#define SEQUENCE(k, o, c, s) {.key = (k), .type = F_SEQMAP, .off = (o), .count_off = (c), .sub = (s)}
#define END {.key = NULL}
#define C(member) offsetof(msgsec_config, member)
#define RULE(member) offsetof(msgsec_rule, member)
#define ROUTE(member) offsetof(msgsec_route, member)

static const char *const suites[] = {MSGSEC_DEFAULT_SUITE, NULL};
static const char *const sasl_mechanisms[] = {"ANONYMOUS", "PLAIN", "EXTERNAL", NULL};
static const char *const when_full_values[] = {"block", "reject", NULL};

static const field tls_fields[] = {
    FIELD("ca", F_PATH, offsetof(msgsec_tls_config, ca)),
    FIELD("cert", F_PATH, offsetof(msgsec_tls_config, cert)),
    FIELD("key", F_KEY, offsetof(msgsec_tls_config, key)),
    END};
static const schema tls_schema = {tls_fields, 0, NULL, check_tls};

static const field identity_fields[] = {
    FIELD("cert", F_PATH, C(identity.cert)),
    FIELD("key", F_KEY, C(identity.key)),
    END};
static const schema identity_schema = {identity_fields, 0, NULL, check_identity};

static const field trust_fields[] = {
    LIST("ca", F_PATHS, C(trust.ca), C(trust.n_ca)),
    LIST("crl", F_PATHS, C(trust.crl), C(trust.n_crl)),
    LIST("issuers", F_PATHS, C(trust.issuers), C(trust.n_issuers)),
    FIELD("users", F_PATH, C(trust.users)),
    FIELD("keytab", F_PATH, C(trust.keytab)),
    END};
static const schema trust_schema = {trust_fields, 0, NULL, NULL};

static const field security_fields[] = {
    FIELD("credentials", F_CREDS, C(security.credentials)),
    ONE_OF("suite", F_CHOICE, C(security.suite), suites, 0),
    NUMBER("max_age", F_LONG, C(security.max_age), 1, TEN_YEARS),
    NUMBER("clock_skew", F_LONG, C(security.clock_skew), 0, 86400),
    NUMBER("max_message_bytes", F_SIZE, C(security.max_message_bytes), 1024, 256LL << 20),
    NUMBER("ticket_grace", F_LONG, C(security.ticket_grace), 0, TEN_YEARS),
    FIELD("protect_tokens", F_BOOL, C(security.protect_tokens)),
    END};
static const schema security_schema = {security_fields, 0, NULL, check_security};

static const field replay_fields[] = {
    FIELD("path", F_NEWPATH, C(replay.path)),
    NUMBER("max_bytes", F_SIZE, C(replay.max_bytes), (long long)MSGSEC_REPLAY_MIN_BYTES,
           (long long)MSGSEC_REPLAY_MAX_BYTES),
    END};
static const schema replay_schema = {replay_fields, 0, NULL, NULL};

static const field rule_fields[] = {
    NEEDED("topic", F_STR, RULE(topic)),
    ONE_OF("action", F_ENUM, RULE(action), rule_actions, 1),
    LIST("senders", F_STRS, RULE(senders), RULE(n_senders)),
    FIELD("bind_transport", F_BOOL, RULE(bind_transport)),
    FIELD("service_cert", F_PATH, RULE(service_cert)),
    FIELD("publish_to", F_STR, RULE(publish_to)),
    FIELD("to", F_STR, RULE(to)),
    END};
static const schema rule_schema = {rule_fields, sizeof(msgsec_rule), NULL, check_rule};

static const field route_fields[] = {
    NEEDED("from", F_STR, ROUTE(from)),
    NEEDED("to", F_STR, ROUTE(to)),
    ONE_OF("action", F_ENUM, ROUTE(action), route_actions, 1),
    NUMBER("qos", F_INT, ROUTE(qos), 0, 2),
    LIST("senders", F_STRS, ROUTE(senders), ROUTE(n_senders)),
    FIELD("service_cert", F_PATH, ROUTE(service_cert)),
    FIELD("wsa_to", F_STR, ROUTE(wsa_to)),
    FIELD("dead_letter", F_STR, ROUTE(dead_letter)),
    END};
static const schema route_schema = {route_fields, sizeof(msgsec_route), init_route, check_route};

static const field mqtt_fields[] = {
    FIELD("host", F_STR, C(mqtt.host)),
    NUMBER("port", F_INT, C(mqtt.port), 1, 65535),
    FIELD("client_id", F_STR, C(mqtt.client_id)),
    NUMBER("version", F_INT, C(mqtt.version), 4, 5), /* 4 = MQTT 3.1.1 */
    SECTION("tls", C(mqtt.tls), &tls_schema),
    FIELD("username", F_STR, C(mqtt.username)),
    FIELD("password_file", F_PATH, C(mqtt.password_file)),
    END};
static const schema mqtt_schema = {mqtt_fields, 0, NULL, check_mqtt};

static const field sasl_fields[] = {
    ONE_OF("mechanism", F_CHOICE, C(amqp.sasl.mechanism), sasl_mechanisms, 0),
    FIELD("username", F_STR, C(amqp.sasl.username)),
    FIELD("password_file", F_PATH, C(amqp.sasl.password_file)),
    END};
static const schema sasl_schema = {sasl_fields, 0, NULL, NULL};

static const field amqp_fields[] = {
    FIELD("url", F_STR, C(amqp.url)),
    SECTION("sasl", 0, &sasl_schema),
    SECTION("tls", C(amqp.tls), &tls_schema),
    END};
static const schema amqp_schema = {amqp_fields, 0, NULL, check_amqp};

static const field spool_fields[] = {
    FIELD("path", F_NEWPATH, C(spool.path)),
    NUMBER("max_messages", F_SIZE, C(spool.max_messages), 1, 1000000000LL),
    NUMBER("max_bytes", F_SIZE, C(spool.max_bytes), 1024, 1LL << 50),
    ONE_OF("when_full", F_CHOICE, C(spool.when_full), when_full_values, 0),
    END};
static const schema spool_schema = {spool_fields, 0, NULL, NULL};

static const field metrics_fields[] = {FIELD("listen", F_STR, C(metrics.listen)), END};
static const schema metrics_schema = {metrics_fields, 0, NULL, check_metrics};

static const field bridge_fields[] = {NUMBER("workers", F_INT, C(bridge.workers), 1, 256), END};
static const schema bridge_schema = {bridge_fields, 0, NULL, NULL};

/* Top-level sections share the msgsec_config base (offset 0). */
static const field config_fields[] = {
    SECTION("identity", 0, &identity_schema),
    SECTION("trust", 0, &trust_schema),
    SECTION("security", 0, &security_schema),
    SECTION("replay", 0, &replay_schema),
    SEQUENCE("rules", C(rules), C(n_rules), &rule_schema),
    SECTION("mqtt", 0, &mqtt_schema),
    SECTION("amqp", 0, &amqp_schema),
    SEQUENCE("routes", C(routes), C(n_routes), &route_schema),
    SECTION("spool", 0, &spool_schema),
    SECTION("metrics", 0, &metrics_schema),
    SECTION("bridge", 0, &bridge_schema),
    END};
static const schema config_schema = {config_fields, 0, NULL, check_config};
/* clang-format on */

/* ------------------------------------------------------------ load and free */

static void free_fields(const schema *s, void *base)
{
    for (const field *f = s->fields; f->key; f++) {
        switch (f->type) {
        case F_STR:
        case F_CHOICE:
        case F_PATH:
        case F_KEY:
        case F_NEWPATH:
            free(*AT(base, f->off, char *));
            break;
        case F_PATHS:
        case F_STRS: {
            char **list = *AT(base, f->off, char **);
            for (size_t i = 0; list && i < *AT(base, f->count_off, size_t); i++)
                free(list[i]);
            free(list);
            break;
        }
        case F_MAP:
            free_fields(f->sub, AT(base, f->off, char));
            break;
        case F_SEQMAP: {
            char *elems = *AT(base, f->off, char *);
            for (size_t i = 0; elems && i < *AT(base, f->count_off, size_t); i++)
                free_fields(f->sub, elems + i * f->sub->elem_size);
            free(elems);
            break;
        }
        default:
            break;
        }
    }
}

void msgsec_config_free(msgsec_config *cfg)
{
    if (!cfg)
        return;
    free_fields(&config_schema, cfg);
    free(cfg->path);
    free(cfg);
}

static int set_defaults(msgsec_config *cfg)
{
    /* security.credentials: 0 until check_config picks the default */
    cfg->security.max_age = MSGSEC_DEFAULT_MAX_AGE;
    cfg->security.clock_skew = MSGSEC_DEFAULT_SKEW;
    cfg->security.max_message_bytes = MSGSEC_DEFAULT_MAX_BYTES;
    cfg->replay.max_bytes = MSGSEC_DEFAULT_REPLAY_BYTES;
    cfg->mqtt.port = 1883;
    cfg->mqtt.version = 5;
    cfg->spool.max_messages = 100000;
    cfg->spool.max_bytes = (size_t)1 << 30;
    cfg->security.suite = strdup(MSGSEC_DEFAULT_SUITE);
    cfg->mqtt.host = strdup("127.0.0.1");
    cfg->mqtt.client_id = strdup("msgsec-bridge");
    cfg->amqp.url = strdup("amqp://127.0.0.1:5672");
    cfg->amqp.sasl.mechanism = strdup("ANONYMOUS");
    cfg->spool.when_full = strdup("block");
    return cfg->security.suite && cfg->mqtt.host && cfg->mqtt.client_id && cfg->amqp.url &&
                   cfg->amqp.sasl.mechanism && cfg->spool.when_full
               ? 0
               : -1;
}

msgsec_err msgsec_config_load(const char *path, msgsec_config **out, msgsec_error *err)
{
    loader ld = {.name = path, .err = err};
    msgsec_error read_err;
    msgsec_config *cfg = NULL;
    node *root = NULL;
    uint8_t *text = NULL;
    size_t len;
    int parser_ready = 0;
    msgsec_err rc;

    *out = NULL;
    if (!path || !*path)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "no configuration file given");
    if (read_file_bounded(path, CONFIG_MAX_BYTES, &text, &len, &read_err) != MSGSEC_OK)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s", read_err.detail);
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & S_IWOTH)) {
        free(text);
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "%s is writable by others (mode %03o); chmod o-w it", path,
                             (unsigned)(st.st_mode & 0777));
    }
    if (!(cfg = calloc(1, sizeof *cfg)) || set_defaults(cfg) != 0 ||
        !yaml_parser_initialize(&ld.parser)) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    parser_ready = 1;
    if (!(cfg->path = realpath(path, NULL)) || !(ld.dir = strdup(cfg->path))) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "%s: cannot resolve path: %s", path,
                           strerror(errno));
        goto cleanup;
    }
    *(strrchr(ld.dir, '/') == ld.dir ? ld.dir + 1 : strrchr(ld.dir, '/')) = '\0';
    if ((rc = parse_tree(&ld, text, len, &root)) != MSGSEC_OK)
        goto cleanup;
    rc = apply_map(&ld, &config_schema, root, cfg, "");
cleanup:
    if (parser_ready)
        yaml_parser_delete(&ld.parser);
    node_free(root);
    free(text);
    free(ld.dir);
    if (rc != MSGSEC_OK)
        msgsec_config_free(cfg);
    else
        *out = cfg;
    return rc;
}

/* ------------------------------------------------------------ helpers */

void msgsec_config_receiver_opts(const msgsec_config *cfg, int with_key, msgsec_receiver_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->cert_file = cfg->identity.cert;
    opts->key_file = with_key ? cfg->identity.key : NULL;
    opts->ca_files = (const char *const *)cfg->trust.ca;
    opts->n_ca_files = cfg->trust.n_ca;
    opts->crl_files = (const char *const *)cfg->trust.crl;
    opts->n_crl_files = cfg->trust.n_crl;
    opts->issuer_files = (const char *const *)cfg->trust.issuers;
    opts->n_issuer_files = cfg->trust.n_issuers;
    opts->users_file = cfg->trust.users;
    opts->keytab_file = cfg->trust.keytab;
    opts->max_age = cfg->security.max_age;
    /* in the options 0 means "default"; a configured 0 skew is -1 there */
    opts->clock_skew = cfg->security.clock_skew ? cfg->security.clock_skew : -1;
    opts->ticket_grace = cfg->security.ticket_grace;
    opts->max_message_bytes = cfg->security.max_message_bytes;
    opts->accepted_credentials = cfg->security.credentials;
    opts->suite = cfg->security.suite;
    opts->replay_path = cfg->replay.path;
    opts->replay_max_bytes = cfg->replay.max_bytes;
    opts->protect_tokens = cfg->security.protect_tokens;
}

int msgsec_topic_match(const char *filter, const char *topic)
{
    if (!filter || !topic)
        return 0;
    /* MQTT 4.7.2: topics starting with $ are not matched by a leading wildcard */
    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return 0;
    const char *f = filter, *t = topic; /* t == NULL: the topic has no more levels */
    for (;;) {
        size_t flen = strcspn(f, "/");
        if (flen == 1 && f[0] == '#' && f[1] == '\0')
            return 1; /* also matches the parent level: "a/#" matches "a" */
        if (!t)
            return 0;
        size_t tlen = strcspn(t, "/");
        if (!(flen == 1 && f[0] == '+') && (flen != tlen || memcmp(f, t, flen) != 0))
            return 0;
        int f_last = f[flen] == '\0', t_last = t[tlen] == '\0';
        if (f_last)
            return t_last;
        f += flen + 1;
        t = t_last ? NULL : t + tlen + 1;
    }
}

int msgsec_glob_match(const char *pattern, const char *text)
{
    const char *p = pattern, *t = text, *star = NULL, *resume = NULL;
    if (!pattern || !text)
        return 0;
    while (*t) {
        if (*p == '*') {
            star = p++;
            resume = t;
        } else if (*p && (*p == '?' || *p == *t)) {
            p++;
            t++;
        } else if (star) {
            p = star + 1; /* let the last * absorb one more character */
            t = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

int msgsec_senders_allow(char *const *globs, size_t n, const char *identity)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (msgsec_glob_match(globs[i], identity))
            return 1;
    return 0;
}
