#include "CLua.h"

static int clua_trampoline(lua_State *L) {
    clua_swift_function fn = (clua_swift_function)lua_touserdata(L, lua_upvalueindex(1));
    int n = fn(L);
    if (n < 0) {
        // The Swift side pushed an error value (a bocker error table). Record where the Lua
        // caller stood, so scripts and users see file:line, then raise: longjmp over C only.
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_getfield(L, -1, "where");
            int has = lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (!has) {
                luaL_where(L, 1);
                lua_setfield(L, -2, "where");
            }
        }
        return lua_error(L);
    }
    return n;
}

void clua_pushswiftfunction(lua_State *L, clua_swift_function fn) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushcclosure(L, clua_trampoline, 1);
}

int clua_loadbuffer(lua_State *L, const char *buf, size_t len, const char *chunkname) {
    return luaL_loadbufferx(L, buf, len, chunkname, "t");
}

void clua_where(lua_State *L, int level) {
    luaL_where(L, level);
}

int clua_msghandler_plain(lua_State *L) {
    return 1;
}

int clua_msghandler_traceback(lua_State *L) {
    if (lua_type(L, 1) == LUA_TSTRING) {
        luaL_traceback(L, L, lua_tostring(L, 1), 1);
    }
    return 1;
}

static int (*clua_interrupt_check)(void) = 0;

static void clua_interrupt_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (!clua_interrupt_check || !clua_interrupt_check()) return;
    lua_sethook(L, NULL, 0, 0);   // once: the script's own cleanup may run after this
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "interrupted");
    lua_setfield(L, -2, "code");
    lua_pushliteral(L, "interrupted");
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, 130);
    lua_setfield(L, -2, "status");
    luaL_getmetatable(L, "bocker.Error");
    lua_setmetatable(L, -2);
    luaL_where(L, 1);
    lua_setfield(L, -2, "where");
    lua_error(L);
}

void clua_install_interrupt_hook(lua_State *L, int (*check)(void)) {
    clua_interrupt_check = check;
    lua_sethook(L, clua_interrupt_hook, LUA_MASKCOUNT, 1000);
}
