// expect: none
import java.security.SecureRandom;
class Tokens {
    String apiKey() { return Long.toHexString(new SecureRandom().nextLong()); }
}
