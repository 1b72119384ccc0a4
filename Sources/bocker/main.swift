// bocker: boots the Lua host, which runs the command script named by the first argument.
import BockerLua
import Glibc

exit(LuaHost.main(CommandLine.arguments))
