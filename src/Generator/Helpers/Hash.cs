using System.Text;

namespace OptGen.Generator.Helpers
{
    /// <summary>
    /// FNV-1a hashes of UTF-8 text: stable across processes and platforms (unlike string.GetHashCode). A hash names
    /// things (kernel types, long file names) but never decides that two things are the same: two different texts
    /// can share a 32-bit hash (a birthday search finds a pair in under a second), so <see cref="OutputNames"/>
    /// compares kernel models structurally and tells colliding names apart.
    /// </summary>
    internal static class Hash
    {
        public static uint Fnv32(string text)
        {
            uint hash = 2166136261;
            foreach (byte b in Encoding.UTF8.GetBytes(text))
            {
                hash = unchecked((hash ^ b) * 16777619);
            }

            return hash;
        }

        public static ulong Fnv64(string text)
        {
            ulong hash = 14695981039346656037;
            foreach (byte b in Encoding.UTF8.GetBytes(text))
            {
                hash = unchecked((hash ^ b) * 1099511628211);
            }

            return hash;
        }
    }
}
