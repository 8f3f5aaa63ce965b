// expect: none
import java.sql.*;
class UserDao {
    ResultSet byName(Connection c, String name) throws SQLException {
        PreparedStatement st = c.prepareStatement("SELECT * FROM users WHERE name = ?");
        st.setString(1, name);
        return st.executeQuery();
    }
}
