return require("modules.cyc.a")
