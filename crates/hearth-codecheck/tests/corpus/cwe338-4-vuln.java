// expect: CWE-338
import java.util.Random;
class Tokens {
    String apiKey() { return Long.toHexString(new Random().nextLong()); }
}
