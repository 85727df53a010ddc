using System.Text;

namespace OptGen.Generator.Helpers
{
    /// <summary>FNV-1a hashes of UTF-8 text: stable across processes and platforms (unlike string.GetHashCode).</summary>
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
