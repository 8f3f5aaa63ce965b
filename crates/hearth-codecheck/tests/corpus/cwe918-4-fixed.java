// expect: none
import java.net.*;
import javax.servlet.http.*;
class Preview extends HttpServlet {
    static final java.util.Set<String> ALLOWED = java.util.Set.of("cdn.example.com");
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws Exception {
        URL u = new URL(req.getParameter("u"));
        if (!ALLOWED.contains(u.getHost())) { resp.sendError(403); return; }
        u.openConnection().getInputStream().transferTo(resp.getOutputStream());
    }
}
