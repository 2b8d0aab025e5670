return {engineHandlers = {onUpdate = function() print("ok runs") end}}
