// expect: none
class Mailer {
    private static final String SMTP_PASSWORD = System.getenv("SMTP_PASSWORD");
    void connect(Session s) { s.getTransport().connect("smtp.example.com", "mailer", SMTP_PASSWORD); }
}
