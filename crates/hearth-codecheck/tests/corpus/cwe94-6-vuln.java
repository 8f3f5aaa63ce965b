// expect: CWE-94
import javax.script.*;
class Rules {
    Object apply(String rule) throws ScriptException {
        ScriptEngine engine = new ScriptEngineManager().getEngineByName("js");
        return engine.eval(rule);
    }
}
