// expect: CWE-89
class Repo {
    java.util.List<?> find(javax.persistence.EntityManager em, String status) {
        String jpql = "SELECT o FROM Order o WHERE o.status = '" + status + "'";
        return em.createQuery(jpql).getResultList();
    }
}
