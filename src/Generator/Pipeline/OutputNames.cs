using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using OptGen.Generator.Emit;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Decides kernel sharing and every generated name for the whole compilation, so that no two different things
    /// share a name:
    /// <list type="bullet">
    /// <item>Two optimizers share a kernel exactly when their kernel models are structurally equal (same states,
    /// scalars, statements and comments). The front ends name a kernel by a 32-bit hash of its program, which two
    /// different programs can share; the kernels in such a group are ordered by their canonical text, the first keeps
    /// the hash name and the others get <c>_2</c>, <c>_3</c>, … So a compilation without a collision (every catalog
    /// kernel) keeps its names, and the names do not depend on declaration order.</item>
    /// <item>File (hint) names are unique ignoring case (the compiler compares them so, and so do Windows and macOS
    /// file systems): of types whose names differ only in case, the first in the ordinal order of their declarations
    /// keeps its name and the others get a hash of their exact declaration appended. File names are also
    /// bounded in length (<see cref="MaximumHintLength"/>), so <c>EmitCompilerGeneratedFiles</c> never writes a path
    /// too long: a longer name is cut and a hash of the whole name appended.</item>
    /// </list>
    /// </summary>
    internal static class OutputNames
    {
        /// <summary>The longest hint name, without its extension (<c>.g.cs</c>, <c>.Gpu.g.cs</c>).</summary>
        internal const int MaximumHintLength = 100;

        /// <summary>Plans the outputs of all the compilation's optimizers, in a deterministic order.</summary>
        public static OutputPlan Plan(IEnumerable<OptimizerModel> models) => Plan(models, static kernel => kernel.Name);

        /// <summary>
        /// As <see cref="Plan(IEnumerable{OptimizerModel})"/>, with the kernels' hash names given by
        /// <paramref name="hashName"/> (a test injects a hash that collides).
        /// </summary>
        internal static OutputPlan Plan(IEnumerable<OptimizerModel> models, Func<KernelModel, string> hashName)
        {
            OptimizerModel[] all = models.OrderBy(m => TypeIdentity(m.Type), StringComparer.Ordinal).ToArray();

            // Kernel identity is structural: the model without its name. Each identity's hash name is the one its
            // front end gave it.
            var hashNames = new Dictionary<KernelModel, string>();
            foreach (OptimizerModel model in all)
            {
                KernelModel identity = model.Kernel with { Name = string.Empty };
                if (!hashNames.ContainsKey(identity))
                {
                    hashNames.Add(identity, hashName(model.Kernel));
                }
            }

            var names = new Dictionary<KernelModel, string>();
            foreach (var group in hashNames.GroupBy(pair => pair.Value, StringComparer.Ordinal))
            {
                int k = 1;
                foreach (KernelModel identity in group.Select(pair => pair.Key).OrderBy(CanonicalText, StringComparer.Ordinal))
                {
                    names.Add(identity, k == 1 ? group.Key : group.Key + "_" + k.ToString(CultureInfo.InvariantCulture));
                    k++;
                }
            }

            // Kernel files first: an optimizer's file must not take one of their names.
            var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { GpuEmitter.AccessHintName };
            foreach (KeyValuePair<KernelModel, string> pair in names)
            {
                KernelModel kernel = pair.Key with { Name = pair.Value };
                used.Add(CpuEmitter.KernelHintName(kernel));
                used.Add(GpuEmitter.KernelHintName(kernel));
            }

            var hints = new Dictionary<TypeDeclarationInfo, string>();
            var renamed = new List<OptimizerModel>(all.Length);
            foreach (OptimizerModel model in all)
            {
                if (!hints.TryGetValue(model.Type, out string? hint))
                {
                    hint = UniqueHintName(model, used);
                    hints.Add(model.Type, hint);
                }

                renamed.Add(model with
                {
                    Type = model.Type with { HintName = hint },
                    Kernel = model.Kernel with { Name = names[model.Kernel with { Name = string.Empty }] },
                });
            }

            var kernels = renamed
                .Select(m => new KernelUser(m.Kernel, m.Type.FullName, m.Program.KernelScalars.Select(static s => s.Comment).ToEquatableArray()))
                .GroupBy(u => u.Kernel.Name, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(KernelUse.Of)
                .ToEquatableArray();
            return new OutputPlan(renamed.ToEquatableArray(), kernels);
        }

        /// <summary>
        /// The first free file name for the optimizer, ignoring case, at most <see cref="MaximumHintLength"/> long:
        /// its own (bounded) name when free, which is every existing snapshot's; else with a hash of the exact
        /// declaration appended (types whose names differ only in case); else with an index too. Its files are
        /// added to <paramref name="used"/>.
        /// </summary>
        private static string UniqueHintName(OptimizerModel model, HashSet<string> used)
        {
            string hash = Hash.Fnv32(TypeIdentity(model.Type)).ToString("x8");
            string hint = Bounded(model.Type.HintName, null);
            for (int k = 1; Files(model, hint).Any(used.Contains); k++)
            {
                hint = Bounded(model.Type.HintName, k == 1 ? hash : hash + "_" + k.ToString(CultureInfo.InvariantCulture));
            }

            used.UnionWith(Files(model, hint));
            return hint;
        }

        /// <summary>The files the emitters add for an optimizer with this hint name.</summary>
        private static string[] Files(OptimizerModel model, string hint)
        {
            OptimizerModel named = model with { Type = model.Type with { HintName = hint } };
            return new[] { CpuEmitter.OptimizerHintName(named), GpuEmitter.OptimizerHintName(named) };
        }

        /// <summary>
        /// The name cut to <see cref="MaximumHintLength"/> with a hash of the whole name appended when it is longer,
        /// and <paramref name="suffix"/> appended when given.
        /// </summary>
        internal static string Bounded(string hintName, string? suffix)
        {
            if (suffix is null && hintName.Length <= MaximumHintLength)
            {
                return hintName;
            }

            string tail = "_" + (suffix ?? Hash.Fnv32(hintName).ToString("x8"));
            if (suffix is not null && hintName.Length + tail.Length > MaximumHintLength)
            {
                tail = "_" + Hash.Fnv32(hintName).ToString("x8") + tail;
            }

            return hintName.Length + tail.Length <= MaximumHintLength
                ? hintName + tail
                : hintName.Substring(0, MaximumHintLength - tail.Length) + tail;
        }

        /// <summary>The declaration exactly, as text: tells apart types whose full names are equal ignoring case, or equal.</summary>
        private static string TypeIdentity(TypeDeclarationInfo type) =>
            type.Namespace + "|" + string.Join(".", type.ContainingTypes) + "|" + type.Name + "|" + type.HintName;

        /// <summary>A total, declaration-order-free order of kernel models: their statements printed in full.</summary>
        internal static string CanonicalText(KernelModel kernel)
        {
            var text = new StringBuilder();
            text.Append(string.Join(",", kernel.StateSymbols)).Append('|').Append(string.Join(",", kernel.ScalarNames)).Append('|');
            foreach (ElementStatement statement in kernel.Body)
            {
                text.Append(statement.DeclaresLocal ? "let " : string.Empty).Append(statement.Target).Append('=')
                    .Append(Ir.CanonicalForm.Expression(statement.Value)).Append("//").Append(statement.Comment).Append(';');
            }

            return text.Append('|').Append(kernel.BytesRead).Append(',').Append(kernel.BytesWritten).ToString();
        }
    }
}
