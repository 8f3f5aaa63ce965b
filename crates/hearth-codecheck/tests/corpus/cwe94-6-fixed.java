// expect: none
import javax.script.*;
class Rules {
    Object apply() throws ScriptException {
        ScriptEngine engine = new ScriptEngineManager().getEngineByName("js");
        return engine.eval("1 + 1");
    }
}
