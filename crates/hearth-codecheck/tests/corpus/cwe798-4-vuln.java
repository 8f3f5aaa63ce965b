// expect: CWE-798
class Mailer {
    private static final String SMTP_PASSWORD = "Wint3r2024!";
    void connect(Session s) { s.getTransport().connect("smtp.example.com", "mailer", SMTP_PASSWORD); }
}
