// Lua bytecode for the bundled scripts: compiled once at build time (embed-scripts), loaded by
// bocker without parsing the text again.
#include <stdlib.h>
#include <string.h>
#include "CLua.h"

struct buffer { char *data; size_t len, cap; };

static int append(lua_State *L, const void *p, size_t n, void *ud) {
    (void)L;
    struct buffer *b = ud;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

char *clua_compile(const char *text, size_t len, const char *chunkname, size_t *outlen, char **error) {
    *outlen = 0;
    *error = NULL;
    lua_State *L = luaL_newstate();
    if (!L) { *error = strdup("cannot create a Lua state"); return NULL; }
    struct buffer b = { NULL, 0, 0 };
    if (luaL_loadbufferx(L, text, len, chunkname, "t") != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        *error = strdup(msg ? msg : "syntax error");
    } else if (lua_dump(L, append, &b, 0) != 0) {   // debug information kept: errors name lines
        *error = strdup("cannot dump the compiled chunk");
    }
    lua_close(L);
    if (*error) { free(b.data); return NULL; }
    *outlen = b.len;
    return b.data;
}

int clua_loadbytecode(lua_State *L, const char *buf, size_t len, const char *chunkname) {
    return luaL_loadbufferx(L, buf, len, chunkname, "b");
}
