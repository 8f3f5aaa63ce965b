// expect: none
import javax.net.ssl.*;
import java.security.cert.*;
class Pinned implements X509TrustManager {
    public void checkClientTrusted(X509Certificate[] c, String a) throws CertificateException { throw new CertificateException("no client certs"); }
    public void checkServerTrusted(X509Certificate[] c, String a) throws CertificateException { Pins.verify(c[0]); }
    public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
}
