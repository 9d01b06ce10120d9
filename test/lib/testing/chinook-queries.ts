/** Queries the testing tests run over Chinook (fixtures/chinook) to compare readers. */

/** Queries over Chinook touching several tables, an index and REAL/NULL values. */
export const CHINOOK_QUERIES = [
  'SELECT TrackId, Name, Composer, UnitPrice, Milliseconds FROM Track ORDER BY TrackId',
  'SELECT a.Name AS artist, count(*) AS albums FROM Artist a JOIN Album b ON b.ArtistId = a.ArtistId GROUP BY a.ArtistId ORDER BY albums DESC, artist LIMIT 20',
  'SELECT c.Country, round(sum(i.Total), 2) AS total FROM Invoice i JOIN Customer c ON c.CustomerId = i.CustomerId GROUP BY c.Country ORDER BY total DESC',
  'SELECT type, name, tbl_name FROM sqlite_schema ORDER BY type, name',
];
