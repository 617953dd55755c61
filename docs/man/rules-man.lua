-- pandoc filter: docs/rules.md as the manual page mailspy.rules(5).
-- The page's title becomes the NAME line, its introduction DESCRIPTION,
-- each "##" section a section of the page and each "###" a subsection;
-- links keep their text (a manual page has nowhere to point them), and
-- tables become tagged paragraphs: the first cell of a row is the tag,
-- each other cell follows under its column's heading (wide tables do not
-- fit a terminal's 80 columns).

local function upper(inlines)
  return pandoc.walk_inline(pandoc.Span(inlines), {
    Str = function(s) return pandoc.Str(s.text:upper()) end,
    Code = function(c) return pandoc.Str(c.text:upper()) end,
  }).content
end

function Link(link)
  return link.content
end

local function inlines_of(blocks)
  local out = pandoc.Inlines({})
  for i, block in ipairs(blocks) do
    if i > 1 then out:insert(pandoc.Space()) end
    if block.content then out:extend(block.content) end
  end
  return out
end

function Table(table)
  local simple = pandoc.utils.to_simple_table(table)
  local items = {}
  for _, row in ipairs(simple.rows) do
    local definition = {}
    for column = 2, #row do
      local text = inlines_of(row[column])
      if #simple.headers > 2 then
        local heading = inlines_of(simple.headers[column])
        text = pandoc.Inlines({pandoc.Emph(heading), pandoc.Str(":"), pandoc.Space()})
          .. text
      end
      definition[#definition + 1] = pandoc.Para(text)
    end
    items[#items + 1] = {inlines_of(row[1]), {definition}}
  end
  return pandoc.DefinitionList(items)
end

function Pandoc(doc)
  local blocks = {}
  local seen_title = false
  for _, block in ipairs(doc.blocks) do
    if block.t == "Header" and block.level == 1 and not seen_title then
      seen_title = true
      blocks[#blocks + 1] = pandoc.Header(1, "NAME")
      blocks[#blocks + 1] = pandoc.Para(pandoc.Inlines(
        "mailspy.rules - the rules language of mailspy(8)"))
      blocks[#blocks + 1] = pandoc.Header(1, "DESCRIPTION")
    elseif block.t == "Header" then
      local level = math.max(block.level - 1, 1)
      local content = level == 1 and upper(block.content) or block.content
      blocks[#blocks + 1] = pandoc.Header(level, content, block.attr)
    else
      blocks[#blocks + 1] = block
    end
  end
  doc.blocks = blocks
  doc.meta.title = pandoc.MetaInlines(pandoc.Inlines("MAILSPY.RULES"))
  return doc
end
