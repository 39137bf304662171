/* emit.c: prints the generated Python module (see emit.h). */
#include "emit.h"

#include <string.h>

#include "diag.h"
#include "split.h"
#include "unparse.h"

/* Runtime support the block functions call: builds a frame from the
 * variables that are bound (those a path may have left unbound are
 * skipped, so the next block sees them unbound, as Python would). */
static const char PRELUDE[] =
    "def _sf_frame(_sf_locals, _sf_names):\n"
    "    return {n: _sf_locals[n] for n in _sf_names if n in _sf_locals}\n"
    "\n\n"
    "def _sf_kwargs(_sf_name, _sf_module, _sf_params, _sf_pos, _sf_kws, _sf_defaults):\n"
    "    # the positional arguments of a remote call written with **: matched as Python does\n"
    "    kw = {}\n"
    "    for d in _sf_kws:\n"
    "        if not isinstance(d, dict):\n"
    "            raise TypeError('%s() argument after ** must be a mapping, not %s' % (_sf_name, type(d).__name__))\n"
    "        for k, v in d.items():\n"
    "            if k in kw:\n"
    "                raise TypeError(\"%s.%s() got multiple values for keyword argument '%s'\" % (_sf_module, _sf_name, k))\n"
    "            kw[k] = v\n"
    "    args = list(_sf_pos)\n"
    "    for k in kw:\n"
    "        if k not in _sf_params:\n"
    "            raise TypeError(\"%s() got an unexpected keyword argument '%s'\" % (_sf_name, k))\n"
    "        if _sf_params.index(k) < len(args):\n"
    "            raise TypeError(\"%s() got multiple values for argument '%s'\" % (_sf_name, k))\n"
    "    last = max([_sf_params.index(k) for k in kw], default=-1)\n"
    "    missing = []\n"
    "    for i in range(len(args), last + 1):\n"
    "        p = _sf_params[i]\n"
    "        if p in kw:\n"
    "            args.append(kw[p])\n"
    "        elif p in _sf_defaults:\n"
    "            args.append(_sf_defaults[p])\n"
    "        else:\n"
    "            missing.append(p)\n"
    "    if missing:\n"
    "        names = [\"'%s'\" % m for m in missing]\n"
    "        text = names[0] if len(names) == 1 else ' and '.join(names) if len(names) == 2 else ', '.join(names[:-1]) + ', and ' + names[-1]\n"
    "        raise TypeError('%s() missing %d required positional argument%s: %s' % (_sf_name, len(missing), '' if len(missing) == 1 else 's', text))\n"
    "    return tuple(args)\n";

int sf_is_entity_decorator(const sf_expr *d)
{
    if (d->kind == SF_EX_NAME)
        return strcmp(d->u.name.id, "entity") == 0 || strcmp(d->u.name.id, "stateflow") == 0;
    if (d->kind == SF_EX_ATTR && d->u.attr.value->kind == SF_EX_NAME)
        return strcmp(d->u.attr.value->u.name.id, "stateflow") == 0 &&
               (strcmp(d->u.attr.attr, "entity") == 0 || strcmp(d->u.attr.attr, "stateflow") == 0);
    return 0;
}

static int is_stateflow_import(const sf_stmt *s)
{
    if (s->kind == SF_ST_IMPORTFROM)
        return s->u.import.level == 0 && s->u.import.module &&
               (strcmp(s->u.import.module, "stateflow") == 0 ||
                strncmp(s->u.import.module, "stateflow.", 10) == 0);
    if (s->kind == SF_ST_IMPORT) {
        for (int i = 0; i < s->u.import.nnames; i++) {
            const char *n = s->u.import.names[i].name;
            if (strcmp(n, "stateflow") != 0 && strncmp(n, "stateflow.", 10) != 0)
                return 0;
        }
        return s->u.import.nnames > 0;
    }
    return 0;
}

static sf_arguments *self_args(sf_arena *a, const char *second)
{
    sf_arguments *args = sf_arena_alloc(a, sizeof(*args));
    args->nargs = second ? 2 : 1;
    args->args = sf_arena_alloc(a, sizeof(sf_arg) * 2);
    args->args[0].name = "self";
    if (second)
        args->args[1].name = second;
    return args;
}

/* def _sf_get_a(self): return self.a / def _sf_set_a(self, value): self.a = value */
static sf_stmt *accessor(sf_arena *a, const char *attr, int setter, sf_pos pos)
{
    sf_stmt *fn = sf_stmt_new(a, SF_ST_FUNCTIONDEF, pos);
    fn->u.func.name = sf_arena_printf(a, "_sf_%s_%s", setter ? "set" : "get", attr);
    fn->u.func.args = self_args(a, setter ? "value" : NULL);
    sf_expr *field = sf_expr_new(a, SF_EX_ATTR, pos);
    field->u.attr.value = sf_expr_name(a, "self", pos);
    field->u.attr.attr = attr;
    sf_stmt *body;
    if (setter) {
        body = sf_stmt_new(a, SF_ST_ASSIGN, pos);
        sf_expr_list_push(a, &body->u.assign.targets, field);
        body->u.assign.value = sf_expr_name(a, "value", pos);
    } else {
        body = sf_stmt_new(a, SF_ST_RETURN, pos);
        body->u.ret.value = field;
    }
    sf_stmt_list_push(a, &fn->u.func.body, body);
    return fn;
}

/* A split method's body is replaced by its block functions; the class keeps
 * the signature (so its default values are evaluated once, at class
 * creation, as Python does: the runtime takes them from __defaults__) and a
 * body that says where the code went. */
static sf_stmt *split_stub(sf_arena *a, const char *entity, sf_stmt *def)
{
    sf_stmt *stub = sf_stmt_new(a, SF_ST_FUNCTIONDEF, def->pos);
    stub->u.func = def->u.func;
    stub->u.func.body = (sf_stmt_list){0};
    sf_stmt *raise = sf_stmt_new(a, SF_ST_RAISE, def->pos);
    sf_expr *call = sf_expr_new(a, SF_EX_CALL, def->pos);
    call->u.call.func = sf_expr_name(a, "RuntimeError", def->pos);
    sf_expr_list_push(a, &call->u.call.args,
                      sf_expr_str(a, sf_arena_printf(a, "%s.%s is split: it runs as the block functions _sf_%s_%s_*",
                                                     entity, def->u.func.name, entity, def->u.func.name),
                                  def->pos));
    raise->u.raise.exc = call;
    sf_stmt_list_push(a, &stub->u.func.body, raise);
    return stub;
}

static void rewrite_entity(sf_program *p, sf_entity_info *ent)
{
    sf_arena *a = p->arena;
    sf_stmt *cls = ent->cls;
    sf_expr_list decos = {0};
    for (int i = 0; i < cls->u.cls.decorators.n; i++)
        if (!sf_is_entity_decorator(cls->u.cls.decorators.v[i]))
            sf_expr_list_push(a, &decos, cls->u.cls.decorators.v[i]);
    cls->u.cls.decorators = decos;

    sf_stmt_list body = {0};
    for (int i = 0; i < cls->u.cls.body.n; i++) {
        sf_stmt *s = cls->u.cls.body.v[i];
        if (s->kind == SF_ST_FUNCTIONDEF) {
            sf_method_info *m = sf_entity_method(ent, s->u.func.name);
            if (m && m->def == s && (m->ir->flags & SF_METHOD_SPLIT))
                s = split_stub(a, ent->ir->name, s);
        }
        sf_stmt_list_push(a, &body, s);
    }
    for (int k = 0; k < ent->nmethods; k++) {
        const sf_ir_method *m = ent->methods[k].ir;
        if (!(m->flags & SF_METHOD_ACCESSOR))
            continue;
        int setter = strncmp(m->name, "_sf_set_", 8) == 0;
        sf_stmt_list_push(a, &body, accessor(a, m->name + 8, setter, cls->pos));
    }
    if (body.n == 0)
        sf_stmt_list_push(a, &body, sf_stmt_new(a, SF_ST_PASS, cls->pos));
    cls->u.cls.body = body;
}

void sf_emit_module(sf_program *p, const sf_stmt_list *block_functions, sf_buf *out)
{
    sf_arena *a = p->arena;
    sf_stmt_list body = {0};
    for (int i = 0; i < p->mod->body.n; i++) {
        sf_stmt *s = p->mod->body.v[i];
        if (is_stateflow_import(s))
            continue;
        sf_stmt_list_push(a, &body, s);
    }
    p->mod->body = body;
    for (int e = 0; e < p->nentities; e++)
        rewrite_entity(p, &p->entities[e]);

    sf_buf_printf(out, "# Generated by sfc from %s: do not edit.\n", p->mod->filename);
    sf_buf_puts(out, "# Split methods run as the block functions at the end of this module\n"
                     "# (docs/ir.md describes how the runtime calls them).\n\n");
    sf_unparse_module(out, p->mod);
    sf_buf_puts(out, "\n\n");
    sf_buf_puts(out, PRELUDE);

    int fi = 0;
    for (int e = 0; e < p->nentities; e++) {
        sf_entity_info *ent = &p->entities[e];
        for (int k = 0; k < ent->nmethods; k++) {
            const sf_ir_method *m = ent->methods[k].ir;
            if (!(m->flags & SF_METHOD_SPLIT) || !ent->methods[k].def)
                continue;
            for (int blk = 0; blk < m->nblocks && fi < block_functions->n; blk++, fi++) {
                const sf_ir_block *ib = &m->blocks[blk];
                int line = ib->line & ((1 << SF_DIAG_FILE_SHIFT) - 1), k = ib->line >> SF_DIAG_FILE_SHIFT;
                sf_buf_printf(out, "\n\n# %s.%s, block %d: from %s line %d", ent->ir->name, m->name, ib->id,
                              k > 0 && k < p->mod->nfiles ? p->mod->files[k] : p->mod->filename, line);
                if (ib->nlive_in) {
                    sf_buf_puts(out, "; frame:");
                    for (int v = 0; v < ib->nlive_in; v++)
                        sf_buf_printf(out, " %s", ib->live_in[v]);
                }
                sf_buf_putc(out, '\n');
                sf_unparse_stmt(out, block_functions->v[fi], 0);
            }
        }
    }
}
